"""Go's ``fmt`` (Sprint, Sprintln, Sprintf) and ``encoding/json`` on the values a template sees.

Values: ``None`` (a nil interface), ``bool``, ``int`` (Go int), ``float`` (float64), ``str``, ``list`` (a slice),
``dict`` (a map; printed in sorted key order as Go's fmt does), :data:`MISSING` (an invalid reflect.Value).
"""

from __future__ import annotations

import math
from typing import Any


class _Missing:
    """Go's invalid reflect.Value: a missing map key, the nil of an unwrapped interface."""

    _instance: _Missing | None = None

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Uint8(int):
    """A byte (``index`` of a string gives one)."""


def go_type(value: Any) -> str:
    """The Go type a JSON value has once decoded as Docker's typed structs (all-string lists are []string)."""
    if value is None or getattr(value, "is_nil", False):
        return "interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Uint8):
        return "uint8"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]string" if all(isinstance(v, str) for v in value) else "[]interface {}"
    if isinstance(value, dict):
        struct_type = getattr(value, "go_type", "")
        if struct_type:
            return str(struct_type)
        return "map[string]string" if all(isinstance(v, str) for v in value.values()) else "map[string]interface {}"
    return type(value).__name__


def holds_interfaces(container: Any) -> bool:
    """Whether ``container``'s elements have Go's static type interface{} (not []string / map[string]string)."""
    return go_type(container) in ("[]interface {}", "map[string]interface {}")


# --------------------------------------------------------------------------- floats

def _digits(value: float) -> tuple[str, int]:
    """The shortest decimal digits of ``abs(value)`` and its decimal point position (0.DIGITS x 10^dp)."""
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    dp = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _exp_text(exp: int) -> str:
    sign = "-" if exp < 0 else "+"
    return f"e{sign}{abs(exp):02d}"


def _special(value: float, plus: bool = True) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return ("+Inf" if plus else "Inf") if value > 0 else "-Inf"
    return None


def format_float_shortest(value: float, verb: str = "g") -> str:
    """strconv.FormatFloat(value, verb, -1, 64) for 'g', 'e' and 'f'."""
    special = _special(value, plus=False)
    if special is not None:
        return special
    digits, dp = _digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if digits == "0":
        dp = 1
    exp = dp - 1
    if verb in "gG":
        use_e = exp < -4 or exp >= 6  # strconv's shortest %g: precision 6 decides
        verb = "e" if use_e else "f"
    if verb == "e":
        text = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + _exp_text(exp if digits != "0" else 0)
        return sign + text
    if dp <= 0:
        text = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        text = digits + "0" * (dp - len(digits))
    else:
        text = digits[:dp] + "." + digits[dp:]
    return sign + text


def format_float(value: float, verb: str, prec: int | None, sharp: bool = False) -> str:
    """fmt's %e %f %g (and %E %F %G) with an optional precision; no sign flags or padding."""
    special = _special(value, plus=False)
    if special is not None:
        return special
    lower = verb.lower()
    if prec is None:
        text = format_float_shortest(value, "g") if lower == "g" else f"{value:.6{lower}}"
    elif lower == "g":
        text = f"{value:.{prec or 1}g}" if prec != 0 else f"{value:.1g}"
        if sharp:
            text = f"{value:#.{prec or 1}g}"
    else:
        text = f"{value:.{prec}{lower}}"
    if sharp and "." not in text and "e" not in text:
        text += "."
    return text.upper() if verb.isupper() else text


# --------------------------------------------------------------------------- %v

def go_quote(text: str, ascii_only: bool = False, quote: str = '"') -> str:
    """strconv.Quote (QuoteToASCII with ``ascii_only``; QuoteRune with ``quote`` "'")."""
    out = [quote]
    for ch in text:
        code = ord(ch)
        if ch == quote:
            out.append("\\" + quote)
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x7F or (not ascii_only and ch.isprintable()):
            out.append(ch)
        elif 0xD800 <= code < 0xE000:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append(quote)
    return "".join(out)


def sprint_value(value: Any, verb: str = "v") -> str:
    """fmt's %v of a value (nested: lists as [a b], maps as map[k:v] in key order, nil as <nil>)."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return ("+Inf" if value > 0 else "-Inf") if math.isinf(value) else format_float_shortest(value, "g")
    if isinstance(value, complex):
        imag = format_float_shortest(value.imag, "g")
        return f"({format_float_shortest(value.real, 'g')}{'' if imag.startswith('-') else '+'}{imag}i)"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(sprint_value(v, verb) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{sprint_value(k, verb)}:{sprint_value(value[k], verb)}"
                                 for k in sorted(value)) + "]"
    if hasattr(value, "__json__"):
        return sprint_value(value.__json__(), verb)
    return str(value)


def sprint_struct(value: Any) -> str:
    """%v of a value read as Docker's typed structs: an object whose keys are Go field names is a struct
    (``{v1 v2 ...}`` in field order), other objects are maps."""
    if isinstance(value, dict) and not getattr(value, "go_type", ""):
        if _struct_like(value):
            return "{" + " ".join(sprint_struct(v) for v in value.values()) + "}"
        return "map[" + " ".join(f"{sprint_value(k)}:{sprint_struct(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(sprint_struct(v) for v in value) + "]"
    return sprint_value(value)


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    prev_string = False
    for index, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if index > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(sprint_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


# --------------------------------------------------------------------------- printf

class _Spec:
    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None

    def pad(self, text: str, numeric: bool = False) -> str:
        if self.width is None or len(text) >= self.width:
            return text
        fill = self.width - len(text)
        if self.minus:
            return text + " " * fill
        if self.zero:
            if numeric and text[:1] in "+- ":
                return text[0] + "0" * fill + text[1:]
            return "0" * fill + text
        return " " * fill + text


def _bad(verb: str, value: Any, spec: _Spec | None = None) -> str:
    """Go's ``%!verb(type=value)``, the value printed with the operand's flags."""
    if value is None or value is MISSING:
        return f"%!{verb}(<nil>)"
    plain = spec is not None and not isinstance(value, list | dict)
    text = _plain(value, spec) if plain and spec is not None else sprint_value(value)
    return f"%!{verb}({go_type(value)}={text})"


def _plain(value: Any, spec: _Spec) -> str:
    """%v of a bad verb's operand: the operand's flags kept (a sign for +), but no Go syntax for #."""
    saved, spec.sharp = spec.sharp, False
    try:
        if isinstance(value, bool):
            return spec.pad("true" if value else "false")
        if isinstance(value, int):
            return _fmt_int(value, "d", spec)
        if isinstance(value, float):
            return _fmt_float(value, "g", spec)
        if isinstance(value, str):
            return _fmt_str(value, "s", spec)
        return spec.pad(sprint_value(value))
    finally:
        spec.sharp = saved


def _fmt_int(value: int, verb: str, spec: _Spec) -> str:
    negative = value < 0
    number = abs(value)
    if verb == "d" or verb == "v":
        body = str(number)
    elif verb in "xX":
        body = format(number, "x" if verb == "x" else "X")
        if spec.sharp:
            body = ("0x" if verb == "x" else "0X") + body
    elif verb == "o":
        body = format(number, "o")
        if spec.sharp:
            body = "0" + body
    elif verb == "O":
        body = "0o" + format(number, "o")
    elif verb == "b":
        body = format(number, "b")
    elif verb == "c":
        return spec.pad(chr(value) if 0 <= value <= 0x10FFFF else "\ufffd")
    elif verb == "q":
        char = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value < 0xE000 else "\ufffd"
        return spec.pad(go_quote(char, ascii_only=spec.plus, quote="'"))
    elif verb == "U":
        body = f"U+{number:04X}"
        return spec.pad(body)
    else:
        return _bad(verb, value, spec)
    if spec.prec == 0 and number == 0:  # Go: only the padding
        return " " * (spec.width or 0)
    if spec.prec is not None:
        body = body.rjust(spec.prec, "0") if spec.prec else body
    sign = "-" if negative else ("+" if spec.plus else (" " if spec.space else ""))
    if spec.prec is not None:
        saved, spec.zero = spec.zero, False
        text = spec.pad(sign + body, numeric=True)
        spec.zero = saved
        return text
    return spec.pad(sign + body, numeric=True)


def _hex_float(value: float, verb: str) -> str:
    """%x of a float64: ``0x1.4p+01`` (shortest mantissa, two exponent digits at least)."""
    text = value.hex()
    mantissa, _, exp = text.partition("p")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign, digits = (exp[0], exp[1:]) if exp[:1] in "+-" else ("+", exp)
    text = f"{mantissa}p{sign}{int(digits):02d}"
    return text.upper().replace("0X", "0X") if verb == "X" else text


def _fmt_float(value: float, verb: str, spec: _Spec) -> str:
    if verb not in "vbeEfFgGxX":
        return _bad(verb, value, spec)
    if verb == "v":
        verb = "g"
    if verb in "xXb":
        return _bad(verb, value, spec) if verb == "b" else spec.pad(_hex_float(value, verb))
    text = format_float(value, verb, spec.prec, spec.sharp)
    if text[:1] not in "+-":
        if spec.plus:
            text = "+" + text
        elif spec.space:
            text = " " + text
    if math.isinf(value) or math.isnan(value):
        saved, spec.zero = spec.zero, False
        text = spec.pad(text)
        spec.zero = saved
        return text
    return spec.pad(text, numeric=True)


def _fmt_str(value: str, verb: str, spec: _Spec) -> str:
    if verb in "vs":
        text = value if spec.prec is None else value[:spec.prec]
        return spec.pad(text)
    if verb == "q":
        text = value if spec.prec is None else value[:spec.prec]
        if spec.sharp and "`" not in text and all(c.isprintable() or c == "\t" for c in text):
            return spec.pad("`" + text + "`")
        return spec.pad(go_quote(text, ascii_only=spec.plus))
    if verb in "xX":
        data = value.encode("utf-8", "surrogatepass")
        if spec.prec is not None:
            data = data[:spec.prec]
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        parts = []
        for index, byte in enumerate(data):
            piece = digits[byte >> 4] + digits[byte & 15]
            if spec.space:
                if spec.sharp:
                    piece = ("0x" if verb == "x" else "0X") + piece
                if index:
                    piece = " " + piece
            elif spec.sharp and index == 0:
                piece = ("0x" if verb == "x" else "0X") + piece
            parts.append(piece)
        return spec.pad("".join(parts))
    return _bad(verb, value, spec)


def _element(value: Any, verb: str, spec: _Spec) -> str:
    """An element of a slice or map: a nil one is ``<nil>`` whatever the verb."""
    return "<nil>" if value is None else format_value(value, verb, spec)


def format_value(value: Any, verb: str, spec: _Spec) -> str:
    """One operand of Sprintf."""
    if verb == "T":  # the type's name, formatted as a string (%-10T, %.3T)
        if value is None or value is MISSING:
            return spec.pad("<nil>")
        return _fmt_str(go_type(value), "s", spec)
    if verb == "v" and spec.plus:  # %+v: field names for structs, never a sign
        spec.plus = False
    if verb == "v" and spec.sharp and isinstance(value, str):  # %#v of a string: Go syntax
        return spec.pad(go_quote(value))
    if value is None or value is MISSING:
        if verb == "v":
            return spec.pad("<nil>")
        return _bad(verb, value, spec)
    if isinstance(value, bool):
        if verb in "vt":
            return spec.pad("true" if value else "false")
        return _bad(verb, value, spec)
    if isinstance(value, int):
        return _fmt_int(value, verb, spec)
    if isinstance(value, float):
        return _fmt_float(value, verb, spec)
    if isinstance(value, str):
        return _fmt_str(value, verb, spec)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_element(v, verb, spec) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_element(k, verb, spec)}:{_element(value[k], verb, spec)}"
                                 for k in sorted(value)) + "]"
    return spec.pad(sprint_value(value))


def sprintf(template: str, args: list[Any]) -> str:
    """fmt.Sprintf for the verbs templates use; Go's %!verb(type=value), %!v(MISSING) and %!(EXTRA ...)."""
    out: list[str] = []
    arg_index = 0
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        if ch != "%":
            j = template.find("%", i)
            j = n if j < 0 else j
            out.append(template[i:j])
            i = j
            continue
        i += 1
        spec = _Spec()
        while i < n and template[i] in "+-# 0":
            flag = template[i]
            if flag == "+":
                spec.plus = True
            elif flag == "-":
                spec.minus = True
                spec.zero = False
            elif flag == "#":
                spec.sharp = True
            elif flag == " ":
                spec.space = True
            elif not spec.minus:
                spec.zero = True
            i += 1
        if i < n and template[i] == "*":
            i += 1
            if arg_index < len(args) and isinstance(args[arg_index], int) and not isinstance(args[arg_index], bool):
                spec.width = args[arg_index]
                if spec.width < 0:
                    spec.minus, spec.width = True, -spec.width
            else:
                out.append("%!(BADWIDTH)")
            arg_index += 1
        else:
            start = i
            while i < n and template[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(template[start:i])
        if i < n and template[i] == ".":
            i += 1
            if i < n and template[i] == "*":
                i += 1
                if arg_index < len(args) and isinstance(args[arg_index], int):
                    spec.prec = max(args[arg_index], 0)
                else:
                    out.append("%!(BADPREC)")
                arg_index += 1
            else:
                start = i
                while i < n and template[i].isdigit():
                    i += 1
                spec.prec = int(template[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = template[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if arg_index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = args[arg_index]
        arg_index += 1
        out.append(format_value(value, verb, spec))
    if arg_index < len(args):
        extra = ", ".join("<nil>" if a is None or a is MISSING else f"{go_type(a)}={sprint_value(a)}"
                          for a in args[arg_index:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# --------------------------------------------------------------------------- json

def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {format_float_shortest(value)}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        text = format_float_shortest(value, "e")
        mantissa, _, exp = text.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits}"
    return format_float_shortest(value, "f")


def _struct_like(value: dict[Any, Any]) -> bool:
    """An object whose keys all look like Go field names (``Type``, ``RW``): a typed struct's JSON, in field order."""
    return bool(value) and all(isinstance(k, str) and k[:1].isascii() and k[:1].isupper() for k in value)


def go_json(value: Any, struct_order: bool = False) -> str:
    """encoding/json with SetEscapeHTML(false), as Docker's ``json`` template function writes it.

    ``struct_order``: objects that look like structs (:func:`_struct_like`) keep their key order, as a typed Go
    struct is written (``inspect``'s objects: the daemon wrote them from the same structs); others are maps
    (keys sorted)."""
    if hasattr(value, "__json__"):
        value = value.__json__()
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v, struct_order) for v in value) + "]"
    if isinstance(value, dict):  # a method (a callable) is no field of the JSON
        kind = type(value).__name__
        ordered = kind == "OrderedJSON" or (struct_order and _struct_like(value))
        keys = list(value) if ordered else sorted(value)
        text = "{" + ",".join(f"{_json_string(str(k))}:{go_json(value[k], struct_order)}" for k in keys
                              if not callable(value[k]) and not getattr(value[k], "omit", False)) + "}"
        if kind == "HTMLEscapedJSON":
            text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return text
    return _json_string(str(value))
