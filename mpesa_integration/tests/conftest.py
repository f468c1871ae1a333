"""
Fixtures for the M-Pesa tests: the Daraja simulator on a loopback port, the app pointed at it, and a live server
that receives the simulator's callbacks over real HTTP.

On SQLite the live server thread shares the test's in-memory connection, so tests must not touch the database while
a callback is being processed: wait for the simulator to report the callback delivered (`wait_callbacks`), then
read. The simulator only delivers a callback `callback_delay` seconds after the push answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mpesa_integration.daraja.simulator import DarajaSimulator
from mpesa_integration.daraja.testing import CallbackRecorder


@pytest.fixture
def sim():
    """A bare simulator (no Django settings touched) with fast callbacks: the Daraja client tests use it."""
    with DarajaSimulator(callback_delay=0.02) as simulator:
        yield simulator


@pytest.fixture
def hooks():
    """A loopback receiver that records every callback the simulator POSTs."""
    with CallbackRecorder() as recorder:
        yield recorder


@pytest.fixture
def daraja(settings, live_server):
    """A running Daraja simulator; MPESA_* settings point at it and callbacks go to the live server."""
    sim = DarajaSimulator(callback_delay=0.2).start()
    settings.MPESA_BASE_URL = sim.base_url
    settings.MPESA_CONSUMER_KEY = sim.consumer_key
    settings.MPESA_CONSUMER_SECRET = sim.consumer_secret
    settings.MPESA_SHORTCODE = sim.shortcode
    settings.MPESA_PASSKEY = sim.passkey
    settings.MPESA_CALLBACK_BASE_URL = live_server.url
    for name, attribute in (
        ("MPESA_INITIATOR_NAME", "initiator_name"),
        ("MPESA_INITIATOR_PASSWORD", "initiator_password"),
        ("MPESA_CERTIFICATE_PATH", "certificate_path"),
        ("MPESA_B2C_SHORTCODE", "b2c_shortcode"),
        ("MPESA_C2B_SHORTCODE", "c2b_shortcode"),
    ):
        value = getattr(sim.server, attribute, None)
        if value:
            setattr(settings, name, str(value))
    try:
        yield sim
    finally:
        sim.stop()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> object:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_callbacks(sim: DarajaSimulator, count: int, timeout: float = 10.0) -> list[dict]:
    """Wait until the simulator has delivered `count` callbacks (each one answered by our server)."""

    def delivered() -> list[dict] | None:
        with sim.server.lock:
            sent = list(sim.server.callbacks_sent)
        return sent if len(sent) >= count else None

    return wait_for(delivered, timeout)  # type: ignore[return-value]
