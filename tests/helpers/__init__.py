"""Helpers shared by the test folders (tests/ is on sys.path through tests/conftest.py, so a test
module imports them as ``from helpers.paused_featx import ...``). Nothing here is a test."""
