#!/usr/bin/env python3
"""Writes test/fixtures/npy/: .npy files made by NumPy's own np.save / format writers, and
manifest.json describing each (dtype, shape, order, byte order, version, values in C order).

Run with Debian's NumPy:  /usr/bin/python3 scripts/npy-goldens.py
The files are committed, so CI does not need NumPy. Each file is small (a few hundred bytes).
"""
import io
import json
import os
import sys

import numpy as np
from numpy.lib import format as npformat

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "npy")


def values_of(a):
    out = []
    for v in a.ravel(order="C").tolist():
        if isinstance(v, bool):
            out.append(v)
        elif isinstance(v, int):
            out.append(str(v))  # int64/uint64 exceed doubles: strings
        elif v != v:
            out.append("nan")
        elif v in (float("inf"), float("-inf")):
            out.append("inf" if v > 0 else "-inf")
        elif v == 0 and str(v).startswith("-"):
            out.append("-0")
        else:
            out.append(v)
    return out


def sample(dtype, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    dt = np.dtype(dtype)
    if dt.kind == "b":
        base = (np.arange(n) % 3 == 0)
    elif dt.kind == "f":
        base = (np.arange(n) - n / 2.0) * 0.3125 + 0.1
        if n >= 4:
            base[1] = -0.0
            base[2] = np.inf
            base[3] = np.nan
    elif dt.kind == "i":
        info = np.iinfo(dt)
        base = (np.arange(n, dtype=np.int64) * 7 - 3).astype(dt)
        if n >= 2:
            base[0] = info.min
            base[1] = info.max
    else:
        info = np.iinfo(dt)
        base = (np.arange(n, dtype=np.uint64) * 5).astype(dt)
        if n >= 1:
            base[-1] = info.max
    return np.array(base, dtype=dt).reshape(shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = []

    def save(name, a, version=None, note=""):
        buf = io.BytesIO()
        if version is None:
            np.save(buf, a, allow_pickle=False)
        else:
            npformat.write_array(buf, a, version=version, allow_pickle=False)
        data = buf.getvalue()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        major, minor = data[6], data[7]
        manifest.append({
            "file": name,
            "dtype": a.dtype.name,
            "descr": a.dtype.str,
            "shape": list(a.shape),
            "fortranOrder": bool(a.flags.f_contiguous and not a.flags.c_contiguous),
            "version": [major, minor],
            "values": values_of(a),
            "note": note,
        })

    dtypes = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"]
    for dt in dtypes:
        save(f"{dt}-c-le.npy", sample(dt, (2, 3)))
        if np.dtype(dt).itemsize > 1:
            save(f"{dt}-c-be.npy", sample(dt, (2, 3)).astype(np.dtype(dt).newbyteorder(">")))
    for dt in ["float32", "float64", "int32", "uint16", "bool"]:
        save(f"{dt}-f-le.npy", np.asfortranarray(sample(dt, (3, 2, 4))))
    save("float64-f-be.npy", np.asfortranarray(sample("float64", (2, 5)).astype(">f8")))
    save("float32-0d.npy", np.array(3.5, dtype=np.float32))
    save("int64-0d.npy", np.array(-42, dtype=np.int64))
    save("float32-empty.npy", np.zeros((0, 3), dtype=np.float32))
    save("float32-1d.npy", sample("float32", (7,)))
    save("float32-4d.npy", sample("float32", (2, 1, 3, 2)))
    save("float32-v2.npy", sample("float32", (2, 3)), version=(2, 0))
    save("float32-v3.npy", sample("float32", (2, 3)), version=(3, 0))
    save("float32-mlp-kernel.npy", (np.arange(784 * 4, dtype=np.float32).reshape(784, 4) / 1000.0), note="a dense kernel as Flower sends it")

    # Refused: an object array (needs pickle), a structured dtype, a unicode string array.
    buf = io.BytesIO()
    np.save(buf, np.array([1, "a", None], dtype=object), allow_pickle=True)
    open(os.path.join(OUT, "bad-object.npy"), "wb").write(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), allow_pickle=False)
    open(os.path.join(OUT, "bad-structured.npy"), "wb").write(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.array(["ab", "c"]), allow_pickle=False)
    open(os.path.join(OUT, "bad-unicode.npy"), "wb").write(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.zeros(3, dtype=np.float16), allow_pickle=False)
    open(os.path.join(OUT, "bad-float16.npy"), "wb").write(buf.getvalue())

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({
            "generator": "scripts/npy-goldens.py",
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "files": manifest,
        }, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} golden files and 4 refused ones to {os.path.normpath(OUT)} with NumPy {np.__version__}")


if __name__ == "__main__":
    main()
