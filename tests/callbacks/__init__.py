"""Tests of e3lab.callbacks (a package, so the test modules share ``_callback_toys``)."""
