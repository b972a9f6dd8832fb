"""gunicorn settings of the Flask baseline (chosen for 2 cores; ../README.md has the trials).

Environment (the defaults are the chosen settings; the others exist for the trials):
  BASELINE_LISTEN        host:port to bind (default 127.0.0.1:8000)
  BASELINE_WORKER_CLASS  gevent (default), gthread or sync
  BASELINE_WORKERS       worker processes (default: one per core)
  BASELINE_THREADS       threads per gthread worker (default 32)
  BASELINE_DB_POOL       database connections per worker (read by app.py, default 8)
"""

import os

bind = os.environ.get("BASELINE_LISTEN", "127.0.0.1:8000")
worker_class = os.environ.get("BASELINE_WORKER_CLASS", "gevent")
workers = int(os.environ.get("BASELINE_WORKERS", str(os.cpu_count() or 1)))
threads = int(os.environ.get("BASELINE_THREADS", "32"))  # gthread only
# Simultaneous connections per worker (gevent, gthread): 2 workers hold 1,000 keep-alive
# clients with room to spare.
worker_connections = 2000
keepalive = 5  # seconds an idle keep-alive connection is kept (gunicorn's default is 2)
backlog = 2048
# A listening socket per worker with SO_REUSEPORT (gunicorn >= 23 opens one in each worker
# when this is set): the kernel spreads new connections evenly over the workers. With one
# shared socket a gevent worker accepts as many as it can, and one process ends up holding
# most of 1,000 keep-alive clients while the other core idles.
reuse_port = os.environ.get("BASELINE_REUSE_PORT", "1") == "1"
timeout = 30
graceful_timeout = 10
accesslog = None  # no per-request log line (procpulse's ingest writes none either)
loglevel = "warning"
