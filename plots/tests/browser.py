#!/usr/bin/env python3
"""The report as a person sees it: `heapbench report` on the fixtures, the
page opened in headless Chromium, then

  - every image loaded (decoded, not a broken icon);
  - no text overflows its box (a cell, heading, paragraph, caption or list
    item whose content is wider than the element), and the page does not
    scroll sideways at 1400 px;
  - a screenshot of the page is written (report-screenshot.png beside the
    page, for a person to look at).

    browser.py HEAPBENCH FIXTURES_DIR OUT_DIR

Exit 77 (skipped) without Chromium.
"""
import json
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
WIDTH, HEIGHT = 1400, 2400

# Runs in the page once it has loaded; leaves its findings in a <pre>.
CHECK = """
<script>
window.addEventListener("load", () => {
  const found = {images: 0, broken: [], overflowing: [], page_width: 0};
  for (const img of document.images) {
    found.images++;
    if (!img.complete || img.naturalWidth === 0) found.broken.push(img.alt || img.src.slice(0, 60));
  }
  const boxes = document.querySelectorAll("td, th, p, li, h1, h2, h3, figcaption, caption, code");
  for (const box of boxes) {
    if (getComputedStyle(box).display === "none") continue;
    if (box.scrollWidth > box.clientWidth + 1 && box.clientWidth > 0)
      found.overflowing.push(box.tagName + ": " + box.textContent.trim().slice(0, 80) +
                             " (" + box.scrollWidth + " > " + box.clientWidth + " px)");
  }
  found.page_width = document.documentElement.scrollWidth;
  const out = document.createElement("pre");
  out.id = "hb-browser-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script>
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browse(browser, page, *args):
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}",
                           "--virtual-time-budget=20000", *args, "file://" + page],
                          capture_output=True, text=True, timeout=180)


def main():
    heapbench, fixtures, out_dir = sys.argv[1:4]
    browser = chromium()
    if not browser:
        print("no chromium: skipped")
        return SKIP
    shutil.rmtree(out_dir, ignore_errors=True)
    inputs = [os.path.join(fixtures, f) for f in
              ("replay-a.json", "replay-laptop.json", "replay-v1.json", "gbench-pairs.json",
               "replay-heapmap.json")]
    proc = subprocess.run([heapbench, "report", *inputs, "-o", out_dir], capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        print(f"report failed: {proc.stderr[-2000:]}", file=sys.stderr)
        return 1
    page = os.path.abspath(os.path.join(out_dir, "report.html"))
    html = open(page, encoding="utf-8").read()
    checked = page.replace("report.html", "report-checked.html")
    with open(checked, "w", encoding="utf-8") as out:
        out.write(html.replace("</body>", CHECK + "</body>"))

    failures = []
    dom = browse(browser, checked, "--dump-dom")
    match = re.search(r'<pre id="hb-browser-check">(.*?)</pre>', dom.stdout, re.S)
    if not match:
        print(f"the page did not finish loading: {dom.stderr[-1000:]}", file=sys.stderr)
        return 1
    found = json.loads(match.group(1).replace("&quot;", '"').replace("&gt;", ">")
                       .replace("&lt;", "<").replace("&amp;", "&"))
    expected = html.count("<img ")
    if found["images"] != expected or expected == 0:
        failures.append(f"{found['images']} images in the page, {expected} in the HTML")
    failures += [f"image does not load: {alt}" for alt in found["broken"]]
    failures += [f"text overflows its box: {what}" for what in found["overflowing"]]
    if found["page_width"] > WIDTH:
        failures.append(f"the page scrolls sideways: {found['page_width']} px wide at {WIDTH}")

    screenshot = os.path.join(out_dir, "report-screenshot.png")
    browse(browser, page, f"--screenshot={screenshot}")
    if not os.path.exists(screenshot) or os.path.getsize(screenshot) < 10000:
        failures.append("no screenshot of the page")

    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    print(f"browser: {found['images']} images, {len(failures)} failures; screenshot {screenshot}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
