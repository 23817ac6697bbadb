"""A real, local AT Protocol network for the Bluesky integration tests (docs/testing.md).

`python -m stammtisch.devtools.atproto install` (or `make atproto`) installs Node 22 and the
official @atproto/dev-env into `.atproto/` in the checkout; `network.running()` starts it on
127.0.0.1 for a test session. The code is in `network.py`.
"""
