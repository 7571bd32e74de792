"""The Jira gateway: all Jira I/O of the service, through the `jira` package (REST v2, wiki markup).

`JiraGateway` (gateway.py) is the facade; errors.py has the error classes, retry.py the one retry layer,
approvers.py the approver rules, attachments.py the texts attached once, markup.py escaping for text echoed
back to Jira.
"""

from app.jira_gateway.approvers import ApprovalPolicy
from app.jira_gateway.errors import AuthenticationError, JiraError, JiraNotFound, JiraUnavailable, ValidationError
from app.jira_gateway.gateway import JiraGateway
from app.jira_gateway.models import ApproverDecision, Attachment, Comment, IssueSnapshot, TransitionOutcome

__all__ = [
    "ApprovalPolicy",
    "ApproverDecision",
    "Attachment",
    "AuthenticationError",
    "Comment",
    "IssueSnapshot",
    "JiraError",
    "JiraGateway",
    "JiraNotFound",
    "JiraUnavailable",
    "TransitionOutcome",
    "ValidationError",
]
