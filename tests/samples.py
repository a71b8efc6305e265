"""Where the shared Tencent samples live, for tests (they sit beside the repo in ../shared)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SAMPLES_DIR = SHARED / "samples"
SEEDS_DIR = SHARED / "seeds"


def sample_files() -> list[Path]:
    """Every sample JSON file; fails loudly (no silent skip) when ../shared is missing."""
    files = sorted(SAMPLES_DIR.glob("*.json"))
    if not files:
        raise FileNotFoundError(
            f"no samples found in {SAMPLES_DIR}: the tests need ../shared beside the repository"
        )
    return files


def sample(name: str) -> bytes:
    """The bytes of one sample file, by file name."""
    return (SAMPLES_DIR / name).read_bytes()
