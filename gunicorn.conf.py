"""gunicorn's settings for the portal: the bookkeeping that lets /metrics count every worker.

gunicorn reads this file by itself when started from the repository root (``gunicorn wsgi:app``),
or with ``gunicorn --config /path/to/gunicorn.conf.py wsgi:app``. Everything else (bind, workers,
timeouts) stays on the command line.

Each worker writes its request counts to files in ``PROMETHEUS_MULTIPROC_DIR`` and whichever worker
answers a scrape adds up every worker's files; without it a scrape would show the share of one
worker. Set the variable to a directory of its own (on a tmpfs, writable by the app's user); unset,
a temporary directory is made here for the life of the server. The directory is emptied when the
server starts, as prometheus_client requires: give each server its own.
"""

# Imported under private names: gunicorn takes this module's public names for its settings.
import glob as _glob
import os as _os
import shutil as _shutil
import tempfile as _tempfile

# Set in the environment once the directory is ready: a configuration reload (HUP) runs this file
# again in the same master, and must not empty the directory under the running workers. Not
# CLOUDCODES_*, which the app would read as a setting.
_PREPARED = "_CLOUDCODES_METRICS_DIR_PREPARED"
_MADE_HERE = "_CLOUDCODES_METRICS_DIR_MADE_HERE"

if not _os.environ.get(_PREPARED):
    # Here, in the master, before the app (and prometheus_client) is imported, even with --preload;
    # the workers inherit the variable.
    if _os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _os.makedirs(_os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        for _stale in _glob.glob(_os.path.join(_os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
            _os.remove(_stale)  # an earlier run's counts would be added to this one's
    else:
        _os.environ["PROMETHEUS_MULTIPROC_DIR"] = _os.environ[_MADE_HERE] = _tempfile.mkdtemp(
            prefix="cloudcodes-metrics-"
        )
    _os.environ[_PREPARED] = _os.environ["PROMETHEUS_MULTIPROC_DIR"]


def child_exit(server, worker):
    """A worker stopped (or was replaced): its live gauges leave the scrape; its counts stay in the totals."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    made_here = _os.environ.get(_MADE_HERE)
    if made_here and made_here == _os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _shutil.rmtree(made_here, ignore_errors=True)
