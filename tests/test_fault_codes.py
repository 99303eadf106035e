"""`model.ats.Fault` mirrors `ats_pkg::fault_e` (rtl/ats_pkg.sv) value for value, so the
scoreboards compare RTL causes with the golden walk and the reference device without a table."""
import re
from pathlib import Path

from model.ats import Fault

PKG = Path(__file__).resolve().parent.parent / "rtl" / "ats_pkg.sv"


def rtl_faults(text: str) -> dict[str, int]:
    """fault_e items as model names: FaultBusTimeout = 4'd15 -> {"BUS_TIMEOUT": 15}."""
    body = text[text.index("typedef enum logic [3:0] {", text.index("// Fault causes")):]
    body = body[:body.index("} fault_e;")]
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", m.group(1)).upper(): int(m.group(2))
            for m in re.finditer(r"\bFault(\w+)\s*=\s*4'd(\d+)", body)}


def mismatches(text: str) -> list[str]:
    rtl = rtl_faults(text)
    model = {f.name: int(f) for f in Fault}
    return [f"{n}: rtl {rtl.get(n)} model {model.get(n)}" for n in sorted(rtl.keys() | model.keys())
            if rtl.get(n) != model.get(n)]


def test_model_mirrors_rtl():
    assert mismatches(PKG.read_text()) == []
    assert Fault.BUS_TIMEOUT == 15 and len(Fault) == 16  # the 4-bit cause is full


def test_a_missing_rtl_code_is_caught():
    text = PKG.read_text().replace("FaultBusTimeout   = 4'd15", "FaultBusTimeoutX = 4'd15")
    assert mismatches(text) == ["BUS_TIMEOUT: rtl None model 15", "BUS_TIMEOUT_X: rtl 15 model None"]
