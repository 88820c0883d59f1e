# SPDX-License-Identifier: BSD-3-Clause
"""derpd-keygen and the key file: derper's config file format, both ways."""
import json
import os
import re
import stat
import subprocess

from nacl.public import PrivateKey

from derp_helpers import public_key_of

# A fixed, already clamped Curve25519 private key.
KNOWN_PRIV = bytes([0x48] + list(range(2, 32)) + [0x5F])


def keygen(keygen_bin, *args):
    return subprocess.run([keygen_bin, *map(str, args)], capture_output=True,
                          text=True, timeout=10)


def read_private(path):
    """The private key from a derper config file, parsed as derper's loadConfig
    would: JSON with a "PrivateKey" string "privkey:<64 hex>"."""
    cfg = json.loads(path.read_text())
    value = cfg["PrivateKey"]
    assert isinstance(value, str) and value.startswith("privkey:")
    raw = bytes.fromhex(value[len("privkey:"):])
    assert len(raw) == 32
    return raw


def test_keygen_writes_derper_key_file(keygen_bin, tmp_path):
    """derpd-keygen PATH makes a 0600 file holding derper's config JSON: exactly
    one key, PrivateKey, "privkey:" + 64 lower-case hex digits."""
    path = tmp_path / "new.key"
    out = keygen(keygen_bin, path)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = json.loads(path.read_text())
    assert list(cfg) == ["PrivateKey"]
    assert re.fullmatch(r"privkey:[0-9a-f]{64}", cfg["PrivateKey"])


def test_keygen_refuses_to_overwrite(keygen_bin, tmp_path):
    """Running derpd-keygen on an existing file fails and leaves it untouched."""
    path = tmp_path / "existing.key"
    assert keygen(keygen_bin, path).returncode == 0
    before, mode = path.read_bytes(), os.stat(path).st_mode
    out = keygen(keygen_bin, path)
    assert out.returncode != 0, "derpd-keygen overwrote an existing key file"
    assert path.read_bytes() == before
    assert os.stat(path).st_mode == mode


def test_pub_matches_private_key(keygen_bin, keyfile):
    """derpd-keygen -pub prints nodekey:<hex of the Curve25519 public key>."""
    out = keygen(keygen_bin, "-pub", keyfile)
    assert out.returncode == 0, out.stderr
    expected = bytes(PrivateKey(read_private(keyfile)).public_key)
    assert out.stdout.strip() == "nodekey:" + expected.hex()


def test_derper_written_key_loads(keygen_bin, derp_server, connect, tmp_path):
    """A key file exactly as derper writes it (json.MarshalIndent with a tab, no
    trailing newline) works with derpd-keygen -pub and with derpd, which then
    advertises the matching public key."""
    path = tmp_path / "derper.key"
    path.write_text('{\n\t"PrivateKey": "privkey:%s"\n}' % KNOWN_PRIV.hex())
    os.chmod(path, 0o600)
    expected = bytes(PrivateKey(KNOWN_PRIV).public_key)

    assert public_key_of(keygen_bin, path) == expected
    srv = derp_server(workers=1, keyfile=path)
    c = connect(srv)
    assert c.headers["derp-public-key"] == expected.hex()
    assert c.server_key == expected


def test_derpd_key_parses_as_derper_config(keygen_bin, keyfile):
    """A derpd-written key parses the way derper's loadConfig parses its config,
    and its public key is the one derpd-keygen -pub reports."""
    raw = read_private(keyfile)
    assert public_key_of(keygen_bin, keyfile) == bytes(PrivateKey(raw).public_key)
