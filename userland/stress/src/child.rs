//! The helper child: what the binary does when started with [`crate::CHILD_ARG`].

use nix::sys::signal::Signal;

/// What a helper child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Block forever (state S) until killed.
    Sleep,
    /// Exit at once, becoming a zombie until the parent reaps it.
    Exit,
}

impl Role {
    /// The argument that selects this role.
    pub fn as_arg(self) -> &'static str {
        match self {
            Role::Sleep => "sleep",
            Role::Exit => "exit",
        }
    }

    /// Parses the role argument.
    pub fn from_arg(s: &str) -> Option<Self> {
        match s {
            "sleep" => Some(Role::Sleep),
            "exit" => Some(Role::Exit),
            _ => None,
        }
    }
}

/// Runs a helper child; never returns.
pub fn run(role: Role) -> ! {
    match role {
        Role::Exit => std::process::exit(0),
        Role::Sleep => {
            // Die with the parent, even if it is SIGKILLed; if it is already gone
            // (re-parented to init or a subreaper) exit now.
            let parent = nix::unistd::getppid();
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if nix::unistd::getppid() != parent {
                std::process::exit(1);
            }
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"r").and_then(|()| out.flush());
            drop(out);
            loop {
                std::thread::park();
            }
        }
    }
}
