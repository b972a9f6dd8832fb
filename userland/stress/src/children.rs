//! Helper child processes: sleeping, stopped and zombie, and their teardown.

use crate::StressError;
use crate::child::Role;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;
use std::io::Read;
use std::process::{Child, Command, Stdio};

/// Every helper child created so far, by category.
#[derive(Debug, Default)]
pub struct Children {
    sleeping: Vec<Child>,
    stopped: Vec<Child>,
    zombies: Vec<Child>,
}

fn spawn(role: Role) -> Result<Child, StressError> {
    // /proc/self/exe when /proc is mounted, else argv[0] (a busybox guest may lack it).
    let exe = std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(Into::into))
        .ok_or_else(|| StressError::Spawn(std::io::Error::other("no path to this binary")))?;
    let mut child = Command::new(exe)
        .arg(crate::CHILD_ARG)
        .arg(role.as_arg())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(StressError::Spawn)?;
    if role == Role::Sleep {
        // Wait for the child's "ready" byte: it has set its parent-death signal and is
        // about to block, so stopping it now cannot leave an orphan behind.
        let mut byte = [0u8; 1];
        let ok = child
            .stdout
            .take()
            .is_some_and(|mut out| out.read_exact(&mut byte).is_ok());
        if !ok {
            let pid = child.id();
            let _ = child.kill();
            let _ = child.wait();
            return Err(StressError::Child {
                pid,
                what: "report ready",
            });
        }
    }
    Ok(child)
}

fn pid_of(c: &Child) -> Pid {
    Pid::from_raw(c.id() as i32)
}

impl Children {
    /// Starts `n` children that block forever (state S).
    pub fn spawn_sleeping(&mut self, n: usize) -> Result<(), StressError> {
        for _ in 0..n {
            self.sleeping.push(spawn(Role::Sleep)?);
        }
        Ok(())
    }

    /// Starts `n` children and stops each with SIGSTOP, returning once each is stopped
    /// (`waitpid(WUNTRACED)` reports the stop without reaping).
    pub fn spawn_stopped(&mut self, n: usize) -> Result<(), StressError> {
        for _ in 0..n {
            let child = spawn(Role::Sleep)?;
            let pid = pid_of(&child);
            self.stopped.push(child);
            kill(pid, Signal::SIGSTOP).map_err(|source| StressError::Sys {
                what: "sending SIGSTOP",
                source,
            })?;
            match waitpid(pid, Some(WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Stopped(..)) => {}
                _ => {
                    return Err(StressError::Child {
                        pid: pid.as_raw() as u32,
                        what: "stop",
                    });
                }
            }
        }
        Ok(())
    }

    /// Starts `n` children that exit at once and leaves them unreaped, returning once
    /// each has exited (`waitid(WNOWAIT)` observes the exit without reaping).
    pub fn spawn_zombies(&mut self, n: usize) -> Result<(), StressError> {
        for _ in 0..n {
            let child = spawn(Role::Exit)?;
            let pid = pid_of(&child);
            self.zombies.push(child);
            match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
                Ok(WaitStatus::Exited(..)) => {}
                _ => {
                    return Err(StressError::Child {
                        pid: pid.as_raw() as u32,
                        what: "exit",
                    });
                }
            }
        }
        Ok(())
    }

    /// Pids of the sleeping children.
    pub fn sleeping(&self) -> Vec<u32> {
        self.sleeping.iter().map(Child::id).collect()
    }

    /// Pids of the stopped children.
    pub fn stopped(&self) -> Vec<u32> {
        self.stopped.iter().map(Child::id).collect()
    }

    /// Pids of the zombie children.
    pub fn zombies(&self) -> Vec<u32> {
        self.zombies.iter().map(Child::id).collect()
    }

    /// Kills (SIGKILL works on stopped processes too) and reaps every child.
    pub fn cleanup(&mut self) {
        for mut c in self
            .sleeping
            .drain(..)
            .chain(self.stopped.drain(..))
            .chain(self.zombies.drain(..))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.cleanup();
    }
}
