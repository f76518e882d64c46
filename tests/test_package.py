"""The package's public surface and its layering rules."""

import pkgutil
import subprocess
import sys

import sndiag


def test_all_is_sorted_and_resolves():
    assert sndiag.__all__ == sorted(sndiag.__all__)
    for name in sndiag.__all__:
        assert getattr(sndiag, name) is not None


def test_errors_module_exports_one_hierarchy():
    from sndiag import errors

    assert errors.__all__ == sorted(errors.__all__)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SndiagError)


def test_package_never_imports_streamlit_outside_ui():
    """Everything but sndiag.ui must work without Streamlit (Python API and CLI)."""
    modules = [m.name for m in pkgutil.walk_packages(sndiag.__path__, "sndiag.")
               if not m.name.startswith("sndiag.ui")]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", modules


def test_import_sndiag_is_cheap():
    code = "import sys, sndiag; print(any(m in sys.modules for m in ('sklearn', 'librosa')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
