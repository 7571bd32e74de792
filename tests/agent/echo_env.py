"""A test command that echoes the credentials it received (the agent must mask them) and their digests."""

import hashlib
import os

for name in ("ANTHROPIC_API_KEY", "AGENT_GIT_TOKEN"):
    value = os.environ.get(name, "")
    print(name, "is", value)
    print(name, "sha256", hashlib.sha256(value.encode()).hexdigest())
