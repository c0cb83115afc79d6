"""管理 in the browser: an admin creates a user with the keyboard only, a mistake is shown next to its field with
what was typed kept, and the new user can log in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.browser import login, screenshot

pytestmark = pytest.mark.browser


def test_admin_creates_a_user_and_the_user_logs_in(live, new_page):
    page = login(new_page(), live.hotline_url, "admin")
    page.goto(live.hotline_url + "/admin/users")
    screenshot(page, "admin-users")
    page.goto(live.hotline_url + "/admin/users/new")
    form = page.locator("form[method=post]").last
    form.locator("[name=username]").fill("dispatcher")  # taken
    form.locator("[name=display_name]").fill("派单员·周敏")
    form.locator("[name=password]").fill("a-long-password-42")
    form.locator("input[type=checkbox][value=dispatcher]").check()
    with page.expect_navigation():
        form.locator("button[type=submit]").last.click()
    expect(page.locator(".field-error, [role=alert]").first).to_be_visible()
    assert page.locator("[name=display_name]").input_value() == "派单员·周敏"
    page.locator("[name=username]").fill("zhoumin")
    page.locator("[name=password]").fill("a-long-password-42")
    with page.expect_navigation():
        page.locator("form[method=post] button[type=submit]").last.click()
    assert "zhoumin" in page.content()
    newcomer = login(new_page(), live.hotline_url, "zhoumin", password="a-long-password-42")
    assert newcomer.locator(".nav a[href='/queue/dispatch']").count() == 1
