"""Fixtures of the real-browser tests: headless Chromium from the Debian packages (never downloaded at run time)
driven by Selenium, and the product's processes as `make run` starts them."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.harness import Stack, drop_namespace, own_namespace

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = "Chromium is not installed: `apt-get install chromium chromium-driver` (.ci/run installs them in CI)"


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium; the test skips (saying why) where the Debian packages are absent."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(MISSING)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for a failure's report
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the scenario's screenshots go: BROWSER_SCREENSHOTS (docs/console when refreshing the README's), else
    the test's own folder (kept by pytest as the run's artefacts)."""
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def console_stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """Sandbox Jira, demo agent, web and worker as real processes, gated at PLAN, in their own namespace."""
    client = await own_namespace(temporal_env)
    running = Stack(tmp_path, temporal_env.client.service_client.config.target_host)
    running.env.update(
        TEMPORAL_NAMESPACE=client.namespace,
        ORCHESTRATOR_GATES="PLAN",
        ORCHESTRATOR_SECRET_KEY="browser-test-session-key-" + "0" * 32,
    )
    try:
        for name, args in (
            ("sandbox", ["sandbox", "serve"]),
            ("agent", ["agent"]),
            ("web", ["web"]),
            ("worker", ["worker"]),
        ):
            running.start(name, *args)
        yield running
    finally:
        running.stop()
        await drop_namespace(temporal_env, client, running.schedule_ids())
