"""Drives kb's web page in a real browser: Debian's chromium, headless, through chromedriver and the pinned
`selenium` package (scripts/test.sh). Started by the Swift test against a running `kb serve`:

    web_check.py check URL TOKEN [SCREENSHOT_DIR]    prints one JSON object with what it saw
    web_check.py bench URL TOKEN N                   prints the median time to the first streamed token

The script asserts nothing itself: the Swift test checks the JSON, so that a failure shows the whole picture."""
import json
import os
import statistics
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

QUESTION = "When did the Colosseum in Rome open?"
BENCH_QUESTION = os.environ.get("KB_BENCH_QUESTION", QUESTION)


def browser(language="en-US"):
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,820",
                     f"--lang={language}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager would try to download one.
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def wait(driver, condition, seconds=30):
    return WebDriverWait(driver, seconds).until(condition)


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(driver, selector):
    found = css(driver, selector)
    return found[0].text if found else None


def shot(driver, folder, name):
    if folder:
        driver.save_screenshot(f"{folder}/{name}.png")


def settle(driver):
    time.sleep(0.3)


def check(url, token, shots):
    seen = {}
    driver = browser()
    try:
        # Ask through a deep link; the daemon has a token, so the page asks for it once.
        driver.get(f"{url}/ask?q={urllib.parse.quote(QUESTION)}")
        dialog = wait(driver, EC.visibility_of_element_located((By.ID, "token-dialog")), 15)
        seen["token_prompt"] = dialog.is_displayed()
        driver.find_element(By.ID, "token-input").send_keys(token)
        driver.find_element(By.ID, "token-save").click()
        card = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".turn[data-answer-id]")))
        seen["token_stored"] = driver.execute_script("return localStorage.getItem('kb-token') !== null")
        seen["token_in_url"] = token in driver.current_url
        seen["first_token_ms"] = card.get_attribute("data-first-token-ms")
        seen["answer_text"] = card.find_element(By.CSS_SELECTOR, ".answer-text").text
        seen["answer_id"] = card.get_attribute("data-answer-id")
        seen["cite_links"] = [a.get_attribute("href") for a in card.find_elements(By.CSS_SELECTOR, "a.cite")]
        seen["evidence"] = [m.text for m in card.find_elements(By.CSS_SELECTOR, ".source mark.evidence")]
        seen["quality_shown"] = len(card.find_elements(By.CSS_SELECTOR, ".quality meter"))
        seen["ask_url"] = driver.current_url
        card.find_element(By.CSS_SELECTOR, ".explain-toggle").click()
        seen["explanation"] = card.find_element(By.CSS_SELECTOR, ".explain").text
        shot(driver, shots, "ask")

        # A citation marker scrolls to its source; the answer stays (no new render, no question asked again).
        card.find_element(By.CSS_SELECTOR, "a.cite").click()
        settle(driver)
        seen["after_cite_turns"] = len(css(driver, ".turn"))
        seen["after_cite_same_card"] = card.get_attribute("data-answer-id") == seen["answer_id"] and card.is_displayed()
        seen["after_cite_hash"] = driver.execute_script("return location.hash")

        # Rate it: thumbs down with a comment.
        card.find_element(By.CSS_SELECTOR, "button.rate.down").click()
        card.find_element(By.CSS_SELECTOR, "textarea.comment").send_keys("needs the closing date too")
        card.find_element(By.CSS_SELECTOR, "button.send-rating").click()
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".turn .rating.sent")), 10)
        seen["rated"] = True

        # A follow-up continues the conversation.
        box = driver.find_element(By.ID, "question")
        box.send_keys("And when did it close?")
        box.send_keys(Keys.ENTER)
        wait(driver, lambda d: len(css(d, ".turn[data-answer-id]")) >= 2)
        seen["follow_up_text"] = css(driver, ".turn[data-answer-id]")[-1].find_element(By.CSS_SELECTOR, ".answer-text").text
        seen["conversation_url"] = driver.current_url

        # The citation's source opens the document at the cited lines.
        card = css(driver, ".turn[data-answer-id]")[0]
        card.find_element(By.CSS_SELECTOR, ".source a.place").click()
        target = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".line.target")))
        settle(driver)
        seen["source_url"] = driver.current_url
        seen["source_target"] = target.text
        shot(driver, shots, "document")

        # The conversation list continues an old conversation.
        driver.get(f"{url}/ask")
        link = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".conversations li a")))
        link.click()
        wait(driver, lambda d: len(css(d, ".turn")) >= 2)
        seen["resumed_turns"] = len(css(driver, ".turn"))
        seen["resumed_url"] = driver.current_url
        # A stored turn's source (the database keeps no passage text) opens its document at the chunk.
        css(driver, ".turn .source a.place")[0].click()
        target = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".target")))
        settle(driver)
        seen["stored_source_url"] = driver.current_url
        seen["stored_source_target"] = target.text

        # Search: highlights, the mode switch, the explanation.
        driver.get(f"{url}/search?q=Colosseum&explain=1")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        seen["search_results"] = len(css(driver, ".result"))
        seen["search_marks"] = [m.text for m in css(driver, ".result mark")]
        seen["search_why"] = text_of(driver, ".result .why")
        shot(driver, shots, "search")
        Select(driver.find_element(By.ID, "mode")).select_by_value("keyword")
        wait(driver, lambda d: "mode=keyword" in d.current_url)
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        seen["keyword_mode_url"] = driver.current_url

        # A document whose text contains markup shows it as characters, in search snippets and in the document.
        driver.get(f"{url}/search?q=markup")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result a.place")))
        seen["markup_snippets"] = [p.text for p in css(driver, ".result .passage")]
        seen["markup_elements_in_results"] = len(css(driver, "main script, main img"))
        css(driver, ".result a.place")[0].click()
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".doc-text .line")))
        settle(driver)
        seen["markup_text"] = text_of(driver, ".doc-text")
        seen["markup_elements"] = len(css(driver, ".doc-text script, .doc-text img, main script, main img"))
        seen["pwned"] = driver.execute_script("return window.__pwned === undefined ? null : window.__pwned")

        # Open a document at a line by URL.
        documents = driver.execute_script(
            "return fetch('/v1/documents', {headers: {Authorization: 'Bearer ' + localStorage.getItem('kb-token')}}).then(r => r.json())")
        rome = next(d for d in documents["documents"] if d["path"].endswith("rome.md"))
        driver.get(f"{url}/documents/{rome['id']}#L3")
        target = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".line.target")))
        seen["line_target_id"] = target.get_attribute("id")
        seen["chunk_marked_lines"] = len(css(driver, ".line.in-chunk"))

        # Documents, status, feedback.
        driver.get(f"{url}/documents")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "table.documents tbody tr")))
        seen["document_rows"] = len(css(driver, "table.documents tbody tr"))
        seen["failed_files"] = text_of(driver, ".failed")
        Select(driver.find_element(By.ID, "format")).select_by_value("markdown")
        wait(driver, lambda d: "format=markdown" in d.current_url)
        settle(driver)
        seen["markdown_rows"] = len(css(driver, "table.documents tbody tr"))
        shot(driver, shots, "documents")
        driver.get(f"{url}/status")
        wait(driver, EC.presence_of_element_located((By.ID, "status-documents")))
        seen["status_documents"] = text_of(driver, "#status-documents")
        shot(driver, shots, "status")
        driver.get(f"{url}/feedback")
        wait(driver, EC.presence_of_element_located((By.ID, "count-down")))
        seen["feedback_down"] = text_of(driver, "#count-down")
        seen["feedback_comment"] = text_of(driver, ".worst")

        # Chinese: the switch, and Chinese text in results.
        driver.get(f"{url}/search?q={urllib.parse.quote('停止运营')}")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        driver.find_element(By.ID, "lang").click()
        wait(driver, lambda d: "搜索" in (text_of(d, "#nav") or ""))
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        seen["chinese_nav"] = text_of(driver, "#nav")
        seen["chinese_marks"] = [m.text for m in css(driver, ".result mark")]
        seen["html_lang"] = driver.execute_script("return document.documentElement.lang")
        shot(driver, shots, "search-zh")

        # The first load: page, script, style sheet and icon, in bytes on the wire.
        driver.execute_script("localStorage.setItem('kb-lang', 'en')")
        driver.get(f"{url}/status")
        wait(driver, EC.presence_of_element_located((By.ID, "status-documents")))
        seen["first_load_bytes"] = driver.execute_script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const assets = performance.getEntriesByType('resource').filter(e => e.name.includes('/assets/'));
            return nav.transferSize + assets.reduce((sum, e) => sum + e.transferSize, 0);""")
        seen["foreign_requests"] = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))")
        # The only errors allowed: the API's 401s before the token was given.
        seen["console_errors"] = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                                  and "status of 401" not in entry["message"]]
    except WebDriverException as error:
        seen["timeout"] = f"{error.msg or 'timed out'} at {driver.current_url}"
        seen["page_text"] = (text_of(driver, "main") or "")[:2000]
        seen["console"] = [entry["message"] for entry in driver.get_log("browser")][-20:]
    finally:
        driver.quit()
    return seen


def browser_language(url, token):
    """A browser whose language is Chinese gets the Chinese interface without touching the switch."""
    driver = browser("zh-CN")
    try:
        driver.get(f"{url}/status")
        driver.execute_script("localStorage.clear()")
        driver.execute_script(f"localStorage.setItem('kb-token', {json.dumps(token)})")
        driver.get(f"{url}/status")
        wait(driver, EC.presence_of_element_located((By.ID, "status-documents")))
        return text_of(driver, "#nav")
    finally:
        driver.quit()


def screenshots(url, token, folder, question, query, chinese_query):
    """The README's screenshots (scripts/screenshots.sh): the main views on a real knowledge base."""
    driver = browser()
    try:
        driver.get(f"{url}/status")
        driver.execute_script(f"localStorage.setItem('kb-token', {json.dumps(token)}); localStorage.setItem('kb-lang', 'en')")
        driver.get(f"{url}/ask?q={urllib.parse.quote(question)}")
        card = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".turn[data-answer-id]")), 300)
        driver.execute_script("window.scrollTo(0, 0)")
        shot(driver, folder, "ask")
        card.find_element(By.CSS_SELECTOR, ".source a.place, .sources a.place").click()
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".target")))
        settle(driver)
        shot(driver, folder, "document")
        driver.get(f"{url}/search?q={urllib.parse.quote(query)}&explain=1")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        shot(driver, folder, "search")
        driver.get(f"{url}/documents")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "table.documents tbody tr")))
        shot(driver, folder, "documents")
        driver.execute_script("localStorage.setItem('kb-lang', 'zh')")
        driver.get(f"{url}/search?q={urllib.parse.quote(chinese_query)}&explain=1")
        wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".result")))
        shot(driver, folder, "search-zh")
        return {"saved": folder}
    finally:
        driver.quit()


def bench(url, token, n):
    driver = browser()
    try:
        driver.get(f"{url}/status")
        driver.execute_script(f"localStorage.setItem('kb-token', {json.dumps(token)})")
        samples, totals = [], []
        for _ in range(n):
            driver.get(f"{url}/ask?q={urllib.parse.quote(BENCH_QUESTION)}")
            card = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".turn[data-answer-id]")), 300)
            samples.append(float(card.get_attribute("data-first-token-ms")))
            totals.append(float(card.get_attribute("data-total-ms")))
        return {"first_token_ms": statistics.median(samples), "total_ms": statistics.median(totals), "n": n}
    finally:
        driver.quit()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "check":
        result = check(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
        if "timeout" not in result:
            result["zh_browser_nav"] = browser_language(sys.argv[2], sys.argv[3])
    elif mode == "shots":
        result = screenshots(*sys.argv[2:8])
    elif mode == "bench":
        result = bench(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result, ensure_ascii=False))
