"""What the browser tests share: finding Debian's Chromium (scripts/install-deps.sh --test)."""
import shutil


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None
