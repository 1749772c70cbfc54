"""Run localstripe on 127.0.0.1 only, with an empty store that is never written to disk.

`localstripe --port N` binds every interface and pickles its store to a shared file in /tmp;
tests need neither. Usage: python localstripe_launcher.py PORT
"""

import logging
import sys

from aiohttp import web
from localstripe import resources, server

if __name__ == "__main__":
    port = int(sys.argv[1])
    resources.store.clear()
    # The store pickles itself to /tmp/localstripe.pickle on every write: not here.
    resources.store.dump_to_disk = lambda: None
    logging.basicConfig(level=logging.INFO)
    web.run_app(server.app, host="127.0.0.1", port=port, access_log=None, print=None)
