"""The local live view (`preview:`) and event snapshots (`snapshots:`): a stage beside the pipeline that
reads what the frame loop produced and never holds it up. Only `server.py` imports the web library
(aiohttp), and only when the preview is on."""
