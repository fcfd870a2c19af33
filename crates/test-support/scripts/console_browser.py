"""Drives the web console in Debian's headless Chromium through Selenium, as a person would.

Usage: console_browser.py PLAN.json

The plan names the server (`base`), the login (`user`, `password`), the files to upload
(`eicar`, `clean`, `svg`: a drawing the rule sanitizes, `archive`: a zip of 1,000 members) and
where screenshots (`artifacts`) and downloads (`downloads`) go. Every step asserts what the page
shows; the first failed step ends the run with its reason and a screenshot. The last line of
output is a JSON summary for the caller.
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

plan = json.load(open(sys.argv[1]))
base = plan["base"]
artifacts = plan["artifacts"]
downloads = plan["downloads"]
os.makedirs(artifacts, exist_ok=True)
os.makedirs(downloads, exist_ok=True)

options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1400,1000",
    "--user-data-dir=" + plan["profile"],
]:
    options.add_argument(flag)
options.add_experimental_option(
    "prefs",
    {"download.default_directory": downloads, "download.prompt_for_download": False},
)
# The driver Debian installs beside the browser: Selenium downloads nothing.
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(browser, 120)
summary = {"screenshots": [], "steps": []}


def shot(name):
    path = os.path.join(artifacts, name + ".png")
    browser.save_screenshot(path)
    summary["screenshots"].append(path)


def step(text):
    summary["steps"].append(text)
    print("step:", text, flush=True)


def text_of(selector):
    return browser.find_element(By.CSS_SELECTOR, selector).text


def go(path):
    browser.get(base + path)


def fetch_status(path, method="GET"):
    """The status of a request the page's own script makes (with the browser's cookies)."""
    return browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: arguments[1], credentials: 'same-origin'})"
        ".then(r => done(r.status)).catch(e => done(String(e)));",
        path,
        method,
    )


def check(condition, message):
    if not condition:
        raise AssertionError(message)


try:
    step("an unauthenticated visit ends at the login form")
    go("/console/")
    wait.until(seen.presence_of_element_located((By.ID, "login")))
    check(browser.current_url.endswith("/console/login"), browser.current_url)
    shot("01-login")

    step("a wrong password is refused on the form")
    browser.find_element(By.ID, "user").send_keys(plan["user"])
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login").click()
    wait.until(seen.presence_of_element_located((By.ID, "login-error")))

    step("log in")
    browser.find_element(By.ID, "user").clear()
    browser.find_element(By.ID, "user").send_keys(plan["user"])
    browser.find_element(By.ID, "password").send_keys(plan["password"])
    browser.find_element(By.ID, "login").click()
    wait.until(seen.presence_of_element_located((By.ID, "submissions")))
    cookie = browser.get_cookie("palisade_session")
    check(cookie is not None, "no session cookie")
    check(cookie["httpOnly"], "the session cookie is readable by scripts")
    check(cookie.get("sameSite") == "Strict", "cookie SameSite: %s" % cookie.get("sameSite"))
    check(
        browser.execute_script("return document.cookie").find("palisade_session") < 0,
        "document.cookie shows the session",
    )

    step("upload the EICAR file, a clean file, a drawing and a 1,000-member archive")
    browser.find_element(By.ID, "nav-upload").click()
    wait.until(seen.presence_of_element_located((By.ID, "files")))
    Select(browser.find_element(By.ID, "rule")).select_by_visible_text(plan["rule"])
    paths = [plan["eicar"], plan["clean"], plan["svg"], plan["archive"]]
    browser.find_element(By.ID, "files").send_keys("\n".join(paths))
    browser.find_element(By.ID, "upload").click()

    def all_final(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, "#uploads tbody tr")
        verdicts = [row.find_elements(By.TAG_NAME, "td")[3].text for row in rows]
        return len(rows) == len(paths) and all(v in ("Allowed", "Blocked") for v in verdicts)

    wait.until(all_final)
    results = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#uploads tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        progress = cells[1].find_element(By.TAG_NAME, "progress").get_attribute("value")
        check(progress == "100", "upload progress of %s: %s" % (cells[0].text, progress))
        results[cells[0].text] = {
            "result": cells[2].text,
            "verdict": cells[3].text,
            "data_id": row.get_attribute("data-id"),
        }
    shot("02-upload")
    names = {key: os.path.basename(plan[key]) for key in ["eicar", "clean", "svg", "archive"]}
    check(results[names["eicar"]]["verdict"] == "Blocked", results)
    check(results[names["eicar"]]["result"] == "Infected", results)
    check(results[names["clean"]]["verdict"] == "Allowed", results)
    check(results[names["clean"]]["result"] == "No Threat Detected", results)
    summary["uploads"] = results

    step("the submissions list shows all four, newest first, and filters to the blocked one")
    browser.find_element(By.ID, "nav-submissions").click()
    wait.until(seen.presence_of_element_located((By.ID, "submissions")))
    listed = [
        row.get_attribute("data-id")
        for row in browser.find_elements(By.CSS_SELECTOR, "#submissions tbody tr")
    ]
    check(
        sorted(listed) == sorted(r["data_id"] for r in results.values()),
        "listed %s" % listed,
    )
    shot("03-submissions")
    Select(browser.find_element(By.NAME, "verdict")).select_by_visible_text("Blocked")
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    wait.until(seen.url_contains("verdict=blocked"))
    blocked = [
        row.get_attribute("data-id")
        for row in browser.find_elements(By.CSS_SELECTOR, "#submissions tbody tr")
    ]
    check(blocked == [results[names["eicar"]]["data_id"]], "blocked: %s" % blocked)
    shot("04-submissions-blocked")

    step("the EICAR report names the detection")
    go("/console/files/" + results[names["eicar"]]["data_id"])
    check(text_of("#verdict") == "Blocked", text_of("#verdict"))
    check("EICAR" in text_of("#engines"), text_of("#engines"))
    shot("05-report-eicar")

    step("page through the archive's 1,000 members")
    go("/console/files/" + results[names["archive"]]["data_id"])
    check(text_of("#members-range") == "1–50 of 1000", text_of("#members-range"))
    browser.find_element(By.ID, "members-next").click()
    wait.until(lambda d: text_of("#members-range") == "51–100 of 1000")
    rows = browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")
    check(len(rows) == 50, "rows on page two: %d" % len(rows))
    check(rows[0].find_element(By.TAG_NAME, "a").text == "m0050.txt", rows[0].text)
    shot("06-report-archive-page-2")
    browser.find_element(By.ID, "members-previous").click()
    wait.until(lambda d: text_of("#members-range") == "1–50 of 1000")

    step("download the sanitized drawing")
    go("/console/files/" + results[names["svg"]]["data_id"])
    check("Sanitized" in text_of("#cdr") or "sanitized" in text_of("#cdr"), text_of("#cdr"))
    shot("07-report-sanitized")
    browser.find_element(By.CSS_SELECTOR, "a.download").click()
    deadline = time.time() + 60
    saved = []
    while time.time() < deadline:
        saved = [
            name
            for name in os.listdir(downloads)
            if not name.startswith(".") and not name.endswith(".crdownload")
        ]
        if saved:
            break
        time.sleep(0.2)
    check(saved, "nothing was downloaded")
    time.sleep(0.5)
    summary["downloaded_name"] = saved[0]
    with open(os.path.join(downloads, saved[0]), "rb") as copy:
        summary["downloaded_text"] = copy.read().decode("utf-8", "replace")

    step("the raw JSON opens with the session")
    check(fetch_status("/file/" + results[names["clean"]]["data_id"]) == 200, "raw JSON")

    step("engines and cluster")
    browser.find_element(By.ID, "nav-engines").click()
    wait.until(seen.presence_of_element_located((By.ID, "engine-list")))
    engines = text_of("#engine-list")
    check("clamav" in engines and "production" in engines, engines)
    shot("08-engines")
    browser.find_element(By.ID, "nav-cluster").click()
    wait.until(seen.presence_of_element_located((By.ID, "nodes")))
    check("online" in text_of("#nodes") and "serve" in text_of("#nodes"), text_of("#nodes"))
    check(text_of("#queue-depth") == "0", text_of("#queue-depth"))
    shot("09-cluster")

    step("batches")
    browser.find_element(By.ID, "nav-batches").click()
    wait.until(seen.presence_of_element_located((By.ID, "batches")))
    shot("10-batches")

    step("a form posted without the token is refused, and the session lives on")
    browser.execute_script(
        "const form = document.createElement('form');"
        "form.method = 'post'; form.action = '/console/logout';"
        "document.body.appendChild(form); form.submit();"
    )
    wait.until(seen.presence_of_element_located((By.ID, "message")))
    check("security token" in text_of("#message"), text_of("#message"))
    shot("11-csrf-refused")
    check(fetch_status("/file", "POST") == 403, "a POST /file without the header token")
    go("/console/submissions")
    wait.until(seen.presence_of_element_located((By.ID, "submissions")))

    step("log out, and the pages are closed")
    browser.find_element(By.ID, "logout").click()
    wait.until(seen.presence_of_element_located((By.ID, "login")))
    for path in ["/console/submissions", "/console/engines", "/console/cluster"]:
        go(path)
        check(browser.current_url.endswith("/console/login"), path + " stayed open")
    check(
        fetch_status("/file/" + results[names["clean"]]["data_id"]) == 403,
        "the report is still readable",
    )
    shot("12-logged-out")
    summary["ok"] = True
except Exception as error:  # noqa: BLE001 - the report is the point
    summary["ok"] = False
    summary["error"] = "%s: %s" % (type(error).__name__, error)
    try:
        shot("failure")
    except Exception:  # noqa: BLE001
        pass
finally:
    browser.quit()

print(json.dumps(summary))
sys.exit(0 if summary["ok"] else 1)
