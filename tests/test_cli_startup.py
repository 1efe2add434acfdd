"""The CLI starts without importing torch (a rescan or --help stays fast); its defaults match the library's."""

import inspect
import subprocess
import sys


def test_cli_import_does_not_load_torch():
    code = "import sys, classifykit.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_export_command_defaults_are_the_library_defaults():
    from classifykit.cli.export import export_command
    from classifykit.export.to_onnx import DEFAULT_OPSET
    from classifykit.export.verify import DEFAULT_ATOL, DEFAULT_RTOL

    params = inspect.signature(export_command).parameters
    assert params["opset"].default.default == DEFAULT_OPSET
    assert params["atol"].default.default == DEFAULT_ATOL
    assert params["rtol"].default.default == DEFAULT_RTOL
