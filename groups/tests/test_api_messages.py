"""messages: members post; only the sender edits; the sender or an official deletes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from groups.models import GroupMessage
from groups.tests.conftest import BASE
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db

URL = f"{BASE}/messages/"


def test_member_posts_and_lists(make_client, group, member, chair):
    response = make_client(member).post(URL, {"group": group.id, "content": "Meeting on Saturday"})
    assert response.status_code == 201, response.data
    assert response.data["user"] == member.id
    assert response.data["user_details"]["first_name"] == member.first_name
    assert response.data["is_edited"] is False
    listed = make_client(chair).get(URL, {"group": group.id}).data
    assert [row["id"] for row in listed["results"]] == [response.data["id"]]
    assert make_client(chair).get(URL, {"search": "saturday"}).data["count"] == 1


def test_blank_message_is_400(make_client, group, member):
    response = make_client(member).post(URL, {"group": group.id, "content": "   "})
    assert response.status_code == 400
    assert "content" in response.data["fields"]
    assert GroupMessage.objects.count() == 0


def test_outsider_cannot_post_read_edit_or_delete(make_client, group, member, outsider):
    message = GroupMessage.objects.create(group=group, user=member, content="ours")
    client = make_client(outsider)
    response = client.post(URL, {"group": group.id, "content": "spam"})
    assert response.status_code == 404
    assert "group" in response.data["fields"]
    assert client.get(f"{URL}{message.id}/").status_code == 404
    assert client.patch(f"{URL}{message.id}/edit/", {"content": "x"}).status_code == 404
    assert client.delete(f"{URL}{message.id}/").status_code == 404
    assert client.get(URL, {"group": group.id}).data["count"] == 0
    assert list(GroupMessage.objects.values_list("content", flat=True)) == ["ours"]


def test_only_the_sender_edits(make_client, group, member, chair):
    message = GroupMessage.objects.create(group=group, user=member, content="typo")
    assert make_client(chair).patch(f"{URL}{message.id}/edit/", {"content": "not mine"}).status_code == 403
    message.refresh_from_db()
    assert (message.content, message.is_edited) == ("typo", False)
    response = make_client(member).patch(f"{URL}{message.id}/edit/", {"content": "fixed"})
    assert response.status_code == 200
    assert response.data["content"] == "fixed"
    assert response.data["is_edited"] is True
    assert response.data["edited_at"]


def test_delete_by_sender_or_official_only(make_client, group, member, chair):
    other = add_member(group).user
    first = GroupMessage.objects.create(group=group, user=member, content="one")
    second = GroupMessage.objects.create(group=group, user=member, content="two")
    assert make_client(other).delete(f"{URL}{first.id}/").status_code == 403
    assert GroupMessage.objects.count() == 2
    assert make_client(member).delete(f"{URL}{first.id}/").status_code == 204
    assert make_client(chair).delete(f"{URL}{second.id}/").status_code == 204
    assert GroupMessage.objects.count() == 0


def test_list_query_count_does_not_grow_with_rows(make_client):
    group = make_group(name="Chatty")
    users = [add_member(group).user for _ in range(3)]
    for i in range(5):
        GroupMessage.objects.create(group=group, user=users[i % 3], content=f"m{i}")
    client = make_client(users[0])
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).data["count"] == 5
    for i in range(20):
        GroupMessage.objects.create(group=group, user=users[i % 3], content=f"n{i}")
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(URL, {"page_size": 25}).data["results"]) == 25
    assert len(small.captured_queries) == len(large.captured_queries)
