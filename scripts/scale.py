"""`make scale`: the production process model on one machine.

    python scripts/scale.py [--web N] [--workers M] [--port PORT]

N web processes behind nginx, M Celery workers and beat, the preview origin
(SAMOKODER_PREVIEW_ORIGIN, by default http://preview.localhost:<port + 1>) and its worker,
on the database and Redis in DATABASE_URL and REDIS_URL (PostgreSQL and the machine's
Redis, as in production; with them unset, the embedded SQLite file and a private Redis
from `scripts/with_redis.py`). Logs, sockets and the preview front's folder go to
var/scale/. Ctrl-C stops every process.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy.cluster import Cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args()
    env = dict(os.environ)
    # Its preview origin beside its own port: `make run`'s may be on 8001.
    env.setdefault("SAMOKODER_PREVIEW_ORIGIN", f"http://preview.localhost:{args.port + 1}")
    cluster = Cluster(
        web=args.web, workers=args.workers, port=args.port, env=env,
        workdir=Path("var/scale").resolve(), previews=True,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    cluster.start()
    print(
        f"\n  Samokoder ({args.web} web, {args.workers} workers) is running at {cluster.url}/"
        f"  (logs in {cluster.workdir}; Ctrl-C stops it)\n"
        f"  Previews of generated apps are served apart, on port {cluster.preview_port}\n",
        flush=True,
    )
    try:
        watched = [cluster.balancer, *cluster.web, cluster.beat, *cluster.previews]
        while all(s.alive() for s in watched):
            time.sleep(1)
        print("a process exited; stopping the cluster", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
