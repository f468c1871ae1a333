"""The app's Daraja client: one OAuth token shared by every worker through the cache, fetched under a cache lock."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache

from mpesa_integration import gateway

pytestmark = pytest.mark.django_db


def test_workers_share_one_token_through_the_cache(daraja):
    """Eight 'workers' (separate client objects, as in separate processes) ask for a token at the same moment."""
    clients = [gateway.client_get() for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    tokens: list[str] = []

    def work(client) -> None:
        barrier.wait()
        tokens.append(client.get_token())

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(tokens)) == 1
    assert daraja.count("GET", "/oauth/v1/generate") == 1  # a new token would have invalidated the others'
    assert cache.get(clients[0].token_cache_key) == tokens[0]


def test_a_refused_token_is_refreshed_once_for_everyone(daraja):
    first, second = gateway.client_get(), gateway.client_get()
    stale = first.get_token()
    daraja.expire_tokens()  # Daraja now answers 404.001.03 to the cached token

    fresh = first.get_token(force_refresh=True, stale_token=stale)
    again = second.get_token(force_refresh=True, stale_token=stale)  # another worker saw the same refusal

    assert fresh != stale and again == fresh
    assert daraja.count("GET", "/oauth/v1/generate") == 2


def test_callback_urls_carry_the_secret_and_c2b_urls_avoid_the_word_mpesa(settings):
    settings.MPESA_CALLBACK_BASE_URL = "https://api.chama.example/"
    settings.MPESA_CALLBACK_SECRET = "abc123"

    assert gateway.callback_url("stk") == "https://api.chama.example/api/v1/mpesa/callbacks/abc123/stk/"
    assert "mpesa" not in gateway.callback_url("c2b_confirmation").lower()
    assert "mpesa" not in gateway.callback_url("c2b_validation").lower()
