"""Who does what: one story per way into AWS, each played from a start time `t`.

A story creates sessions through the STS primitives of `World` and spends them on everyday calls.
The truth of every record comes from the story's actor (person, pipeline or service), never from
reading records back.
"""

from __future__ import annotations

from collections.abc import Callable

from .cli_stories import cli, federation_token, iam_user_direct, session_token
from .console_stories import console_switchrole, identity_center, root, saml
from .hazard_stories import (
    anonymous_read,
    failed_signin,
    keyless_service_session,
    service_event,
    through_missing_account,
)
from .workload_stories import ec2_instance, lambda_function, web_identity
from .world import World

Story = Callable[[World, int], None]
# (story, weight, made by people: quieter at night)
STORIES: tuple[tuple[Story, float, bool], ...] = (
    (cli, 20, True),
    (console_switchrole, 14, True),
    (saml, 6, True),
    (identity_center, 14, True),
    (web_identity, 10, False),
    (ec2_instance, 12, False),
    (lambda_function, 8, False),
    (federation_token, 2, True),
    (session_token, 3, True),
    (iam_user_direct, 6, True),
    (root, 0.4, True),
    (failed_signin, 0.6, True),
    (service_event, 0.6, False),
    (keyless_service_session, 0.5, False),
    (anonymous_read, 0.6, False),
    (through_missing_account, 0.8, True),
)
