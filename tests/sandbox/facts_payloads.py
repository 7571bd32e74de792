"""The example webhook bodies of /work/shared/jira/FACTS.md section 8, verbatim: the shapes the sandbox must send."""

from __future__ import annotations

from typing import Any

LABEL_ADDED: dict[str, Any] = {
    "timestamp": 1767268800512,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_updated",
    "user": {
        "self": "https://acme-dev.atlassian.net/rest/api/2/user?accountId=712020:3f6a9c1e-2b7d-4e08-9c55-1d2e3f4a5b6c",
        "accountId": "712020:3f6a9c1e-2b7d-4e08-9c55-1d2e3f4a5b6c",
        "accountType": "atlassian",
        "displayName": "Priya Raman",
        "active": True,
        "timeZone": "Europe/Dublin",
    },
    "issue": {
        "id": "20431",
        "self": "https://acme-dev.atlassian.net/rest/api/2/issue/20431",
        "key": "PAY-317",
        "fields": {
            "summary": "Refund webhook retries too aggressively",
            "issuetype": {"id": "10002", "name": "Bug", "subtask": False},
            "project": {"id": "10010", "key": "PAY", "name": "Payments"},
            "status": {"id": "10001", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
            "labels": ["backend", "needs-bot"],
        },
    },
    "changelog": {
        "id": "88120",
        "items": [
            {
                "field": "labels",
                "fieldtype": "jira",
                "fieldId": "labels",
                "from": None,
                "fromString": "backend",
                "to": None,
                "toString": "backend needs-bot",
            }
        ],
    },
}

STATUS_CHANGED: dict[str, Any] = {
    "timestamp": 1767272400907,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_generic",
    "user": {
        "self": "https://acme-dev.atlassian.net/rest/api/2/user?accountId=712020:3f6a9c1e-2b7d-4e08-9c55-1d2e3f4a5b6c",
        "accountId": "712020:3f6a9c1e-2b7d-4e08-9c55-1d2e3f4a5b6c",
        "accountType": "atlassian",
        "displayName": "Priya Raman",
        "active": True,
        "timeZone": "Europe/Dublin",
    },
    "issue": {
        "id": "20431",
        "self": "https://acme-dev.atlassian.net/rest/api/2/issue/20431",
        "key": "PAY-317",
        "fields": {
            "summary": "Refund webhook retries too aggressively",
            "project": {"id": "10010", "key": "PAY", "name": "Payments"},
            "status": {
                "id": "3",
                "name": "In Progress",
                "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
            },
            "resolution": None,
            "labels": ["backend", "needs-bot"],
        },
    },
    "changelog": {
        "id": "88127",
        "items": [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": "10001",
                "fromString": "To Do",
                "to": "3",
                "toString": "In Progress",
            }
        ],
    },
}

COMMENT_CREATED: dict[str, Any] = {
    "timestamp": 1767276000233,
    "webhookEvent": "comment_created",
    "comment": {
        "self": "https://acme-dev.atlassian.net/rest/api/2/issue/20431/comment/51877",
        "id": "51877",
        "author": {
            "self": "https://acme-dev.atlassian.net/rest/api/2/user?accountId=5f2a7b9c0d1e2f3a4b5c6d7e",
            "accountId": "5f2a7b9c0d1e2f3a4b5c6d7e",
            "accountType": "atlassian",
            "displayName": "Marco Lindqvist",
            "active": True,
            "timeZone": "America/Toronto",
        },
        "body": "[~accountid:712020:9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b] please re-run the checks on this one",
        "updateAuthor": {
            "self": "https://acme-dev.atlassian.net/rest/api/2/user?accountId=5f2a7b9c0d1e2f3a4b5c6d7e",
            "accountId": "5f2a7b9c0d1e2f3a4b5c6d7e",
            "accountType": "atlassian",
            "displayName": "Marco Lindqvist",
            "active": True,
            "timeZone": "America/Toronto",
        },
        "created": "2026-01-01T09:00:00.233-0500",
        "updated": "2026-01-01T09:00:00.233-0500",
        "jsdPublic": True,
    },
    "issue": {
        "id": "20431",
        "self": "https://acme-dev.atlassian.net/rest/api/2/issue/20431",
        "key": "PAY-317",
        "fields": {
            "summary": "Refund webhook retries too aggressively",
            "issuetype": {"id": "10002", "name": "Bug", "subtask": False},
            "project": {"id": "10010", "key": "PAY", "name": "Payments", "projectTypeKey": "software"},
            "assignee": None,
            "priority": {"id": "3", "name": "Medium"},
            "status": {
                "id": "3",
                "name": "In Progress",
                "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
            },
        },
    },
}
