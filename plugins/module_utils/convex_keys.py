# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance secrets and admin keys of a self-hosted Convex backend.

Pure functions, byte-compatible with the backend's own key broker
(``crates/keybroker`` of get-convex/convex-backend, admin key version 1):

* instance secret: 32 bytes, written as 64 hex characters. The backend
  hex-decodes it with ``const_hex``, which accepts upper and lower case and an
  optional ``0x`` prefix, and nothing else: no whitespace, no newline.
* subkey: SP 800-108 counter-mode KDF with HMAC-SHA256 (one block, 32-bit
  big-endian counter 1, label ``admin key``, no context or length field),
  truncated to 16 bytes.
* admin key: ``<instance name>|<hex>``, where hex is the lowercase hex of
  ``0x01 || nonce(12) || AES-128-GCM-SIV(subkey, nonce, plaintext, aad=0x01)``
  and plaintext the protobuf message ``convex_keys.AdminKey``.

Nothing here performs I/O besides reading the clock and ``os.urandom``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import hmac
import os
import struct
import time
import traceback

from ansible_collections.hansenexus.platform.plugins.module_utils.errors import (
    KeyFormatError,
    PlatformError,
    ValidationError,
)

CRYPTOGRAPHY_IMPORT_ERROR = None
try:
    from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True

# Upstream default of the self-hosted image (read_credentials.sh).
DEFAULT_INSTANCE_NAME = "convex-self-hosted"
# ``cryptography`` gained AESGCMSIV in 42.0 (it needs OpenSSL >= 3.2).
CRYPTOGRAPHY_REQUIREMENT = "cryptography>=42.0"

ADMIN_KEY_VERSION = 1
SECRET_BYTES = 32
SUBKEY_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
ADMIN_KEY_PURPOSE = b"admin key"
# version byte + nonce + tag: a shorter encrypted part cannot be an admin key.
MIN_ENCRYPTED_BYTES = 1 + NONCE_BYTES + TAG_BYTES
# Keys with these type prefixes ("preview:team:project|...") lose their whole
# name part in the backend's HTTP layer (AdminKey::remove_type_prefix).
NAMELESS_TYPE_PREFIXES = ("preview", "project")

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_MAX_UINT64 = (1 << 64) - 1

# Field numbers and wire types of convex_keys.AdminKey.
_FIELD_INSTANCE_NAME = 1
_FIELD_ISSUED_S = 2
_FIELD_MEMBER_ID = 3
_FIELD_SYSTEM = 4
_FIELD_IS_READ_ONLY = 5
_WIRE_VARINT = 0
_WIRE_FIXED64 = 1
_WIRE_LEN = 2
_WIRE_FIXED32 = 5


class AdminKeyCheck(object):
    """Result of :func:`check_admin_key`.

    ``valid`` is True only when the backend would accept the key. ``reason``
    says why not (or ``"valid"``). The decoded fields are ``None`` when the key
    could not be decrypted.
    """

    __slots__ = ("valid", "reason", "key_instance_name", "issued_s", "member_id", "system", "read_only")

    def __init__(self, valid, reason, key_instance_name=None, issued_s=None, member_id=None,
                 system=None, read_only=None):
        self.valid = valid
        self.reason = reason
        self.key_instance_name = key_instance_name
        self.issued_s = issued_s
        self.member_id = member_id
        self.system = system
        self.read_only = read_only

    def as_dict(self):
        return dict((name, getattr(self, name)) for name in self.__slots__)

    def __repr__(self):
        return "AdminKeyCheck(%s)" % ", ".join("%s=%r" % item for item in sorted(self.as_dict().items()))


# --------------------------------------------------------------------------
# Instance secret and instance name
# --------------------------------------------------------------------------

def generate_instance_secret(randbytes=os.urandom):
    """Return a fresh instance secret: 64 lowercase hex characters (32 random bytes)."""
    data = randbytes(SECRET_BYTES)
    if len(data) != SECRET_BYTES:
        raise PlatformError("random source returned %d bytes, not %d" % (len(data), SECRET_BYTES))
    return _hexlify(data)


def _describe_whitespace(value, field):
    """Return an error text when ``value`` contains whitespace, else None. Never echoes the value."""
    if value != value.rstrip():
        tail = value[len(value.rstrip()):]
        if "\n" in tail or "\r" in tail:
            what = "ends with a newline"
        else:
            what = "ends with whitespace"
        return ("%s %s; the Convex backend does not strip it. Remove it where the value is produced "
                "(a common slip when it comes from a file written by echo)" % (field, what))
    if value != value.lstrip():
        return "%s starts with whitespace; remove it" % field
    for char in value:
        if char.isspace():
            return "%s contains whitespace; remove it" % field
    return None


def parse_instance_secret(secret, field="instance_secret"):
    """Return the 32 secret bytes of an instance secret, or raise KeyFormatError.

    Accepts exactly what the backend accepts (``const_hex::decode`` then a
    32-byte check): 64 hex digits in any case, optionally prefixed by ``0x``.
    Error messages name ``field`` and never contain the secret.
    """
    if not isinstance(secret, str):
        raise KeyFormatError("%s must be a string, got %s" % (field, type(secret).__name__))
    if not secret:
        raise KeyFormatError("%s is empty; it must be 64 hex characters (32 bytes)" % field)
    problem = _describe_whitespace(secret, field)
    if problem:
        raise KeyFormatError(problem)
    digits = secret[2:] if secret[:2] in ("0x", "0X") else secret
    for position, char in enumerate(digits):
        if char not in _HEX_DIGITS:
            raise KeyFormatError(
                "%s has a non-hex character at position %d; it must be 64 hex characters (32 bytes)"
                % (field, position + 1 + len(secret) - len(digits)))
    if len(digits) != 2 * SECRET_BYTES:
        raise KeyFormatError(
            "%s has %d hex characters; it must have exactly 64 (32 bytes, e.g. from `openssl rand -hex 32`)"
            % (field, len(digits)))
    return binascii.unhexlify(digits)


def validate_instance_secret(secret, field="instance_secret"):
    """Raise KeyFormatError unless ``secret`` is an instance secret the backend accepts."""
    parse_instance_secret(secret, field=field)


def normalize_instance_secret(secret, field="instance_secret"):
    """Return ``secret`` in canonical form: 64 lowercase hex characters, no prefix."""
    return _hexlify(parse_instance_secret(secret, field=field))


def validate_instance_name(name, field="instance_name"):
    """Return ``name`` if it is usable as an instance name, else raise ValidationError.

    The backend takes any string, but the name travels in admin keys and HTTP
    headers: ``|`` ends the name inside a key, and the backend drops everything
    up to the first ``:`` as a deployment type prefix. So a usable name is
    non-empty printable ASCII without whitespace, ``|`` or ``:``.
    """
    if not isinstance(name, str):
        raise ValidationError("%s must be a string, got %s" % (field, type(name).__name__))
    if not name:
        raise ValidationError("%s is empty" % field)
    problem = _describe_whitespace(name, field)
    if problem:
        raise ValidationError(problem)
    for char in name:
        if not (" " < char <= "~"):
            raise ValidationError("%s %r contains a character outside printable ASCII" % (field, name))
    for char in "|:":
        if char in name:
            raise ValidationError(
                "%s %r contains %r, which the backend treats as a separator inside admin keys"
                % (field, name, char))
    return name


# --------------------------------------------------------------------------
# Key derivation and the AdminKey protobuf message
# --------------------------------------------------------------------------

def derive_subkey(secret_bytes, purpose=ADMIN_KEY_PURPOSE, length=SUBKEY_BYTES):
    """SP 800-108 KDF in counter mode with HMAC-SHA256, as AWS-LC's ``KBKDF_ctr_hmac``.

    Block i (from 1) is ``HMAC(secret, uint32_be(i) || purpose)``; the output
    is the concatenation truncated to ``length`` bytes.
    """
    out = b""
    counter = 1
    while len(out) < length:
        out += hmac.new(secret_bytes, struct.pack(">I", counter) + purpose, hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(field, wire_type):
    return _encode_varint((field << 3) | wire_type)


def _check_uint64(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("%s must be an integer, got %s" % (name, type(value).__name__))
    if value < 0 or value > _MAX_UINT64:
        raise ValidationError("%s must be between 0 and 2**64-1, got %d" % (name, value))


def encode_admin_key_message(issued_s, member_id=0, system=False, read_only=False, instance_name=None):
    """Encode ``convex_keys.AdminKey`` exactly as prost does.

    Fields in field-number order; proto3 defaults (``issued_s`` 0, ``is_read_only``
    false) are omitted, the optional ``instance_name`` and the ``identity`` oneof
    are written whenever set (so member id 0 is written as ``18 00``).
    """
    _check_uint64(issued_s, "issued_s")
    out = bytearray()
    if instance_name is not None:
        raw = instance_name.encode("utf-8")
        out += _tag(_FIELD_INSTANCE_NAME, _WIRE_LEN) + _encode_varint(len(raw)) + raw
    if issued_s:
        out += _tag(_FIELD_ISSUED_S, _WIRE_VARINT) + _encode_varint(issued_s)
    if system:
        out += _tag(_FIELD_SYSTEM, _WIRE_LEN) + _encode_varint(0)
    else:
        _check_uint64(member_id, "member_id")
        out += _tag(_FIELD_MEMBER_ID, _WIRE_VARINT) + _encode_varint(member_id)
    if read_only:
        out += _tag(_FIELD_IS_READ_ONLY, _WIRE_VARINT) + _encode_varint(1)
    return bytes(out)


class _ProtoError(Exception):
    pass


def _read_varint(data, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise _ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        if shift == 63 and byte > 1:
            raise _ProtoError("varint overflows 64 bits")
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _ProtoError("varint longer than 10 bytes")


def _read_len(data, pos):
    length, pos = _read_varint(data, pos)
    end = pos + length
    if end > len(data):
        raise _ProtoError("length-delimited field runs past the end")
    return data[pos:end], end


def _skip_field(data, pos, wire_type):
    if wire_type == _WIRE_VARINT:
        return _read_varint(data, pos)[1]
    if wire_type == _WIRE_FIXED64:
        pos += 8
    elif wire_type == _WIRE_FIXED32:
        pos += 4
    elif wire_type == _WIRE_LEN:
        return _read_len(data, pos)[1]
    else:
        raise _ProtoError("unsupported wire type %d" % wire_type)
    if pos > len(data):
        raise _ProtoError("fixed-size field runs past the end")
    return pos


def _expect_wire(field, wire_type, expected):
    if wire_type != expected:
        raise _ProtoError("field %d has wire type %d, expected %d" % (field, wire_type, expected))


def _check_empty_message(data):
    """``google.protobuf.Empty``: any fields are unknown and skipped, but must be well formed."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        if key >> 3 == 0:
            raise _ProtoError("field number 0")
        pos = _skip_field(data, pos, key & 7)


def decode_admin_key_message(data):
    """Decode ``convex_keys.AdminKey`` (prost semantics: last value wins, unknown fields skipped).

    Returns a dict with instance_name, issued_s, member_id, system, read_only.
    Raises _ProtoError on malformed input.
    """
    fields = {"instance_name": None, "issued_s": 0, "member_id": None, "system": False, "read_only": False}
    pos = 0
    data = bytearray(data)
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise _ProtoError("field number 0")
        if field == _FIELD_INSTANCE_NAME:
            _expect_wire(field, wire_type, _WIRE_LEN)
            raw, pos = _read_len(data, pos)
            try:
                fields["instance_name"] = bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise _ProtoError("instance_name is not UTF-8")
        elif field == _FIELD_ISSUED_S:
            _expect_wire(field, wire_type, _WIRE_VARINT)
            fields["issued_s"], pos = _read_varint(data, pos)
        elif field == _FIELD_MEMBER_ID:
            _expect_wire(field, wire_type, _WIRE_VARINT)
            fields["member_id"], pos = _read_varint(data, pos)
            fields["system"] = False
        elif field == _FIELD_SYSTEM:
            _expect_wire(field, wire_type, _WIRE_LEN)
            raw, pos = _read_len(data, pos)
            _check_empty_message(raw)
            fields["member_id"] = None
            fields["system"] = True
        elif field == _FIELD_IS_READ_ONLY:
            _expect_wire(field, wire_type, _WIRE_VARINT)
            value, pos = _read_varint(data, pos)
            fields["read_only"] = value != 0
        else:
            pos = _skip_field(data, pos, wire_type)
    return fields


# --------------------------------------------------------------------------
# AEAD
# --------------------------------------------------------------------------

def _require_cryptography():
    if not HAS_CRYPTOGRAPHY:
        raise PlatformError("the Python package %s is required for Convex admin keys" % CRYPTOGRAPHY_REQUIREMENT)


def _cipher(secret_bytes):
    _require_cryptography()
    try:
        return AESGCMSIV(derive_subkey(secret_bytes))
    except UnsupportedAlgorithm:
        raise PlatformError(
            "the installed cryptography/OpenSSL lacks AES-GCM-SIV; %s linked against OpenSSL >= 3.2 "
            "is required" % CRYPTOGRAPHY_REQUIREMENT)


def _hexlify(data):
    return binascii.hexlify(data).decode("ascii")


# --------------------------------------------------------------------------
# Admin keys
# --------------------------------------------------------------------------

def issue_admin_key(instance_name, instance_secret, issued_s=None, member_id=0, system=False,
                    read_only=False, nonce=None):
    """Return a version-1 admin key ``<instance_name>|<hex>``, as the backend's ``generate_key``.

    Defaults match upstream ``generate_admin_key.sh``: member id 0, not read-only,
    issued now. ``issued_s`` and ``nonce`` (12 bytes) may be given for
    reproducible output; a nonce must never be reused in production.
    """
    validate_instance_name(instance_name)
    secret_bytes = parse_instance_secret(instance_secret)
    if issued_s is None:
        issued_s = int(time.time())
    _check_uint64(issued_s, "issued_s")
    if issued_s == 0:
        raise ValidationError("issued_s must be non-zero; the backend rejects keys issued at 0")
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise ValidationError("nonce must be %d bytes" % NONCE_BYTES)
    plaintext = encode_admin_key_message(issued_s, member_id=member_id, system=system, read_only=read_only)
    version = struct.pack("B", ADMIN_KEY_VERSION)
    sealed = _cipher(secret_bytes).encrypt(nonce, plaintext, version)
    return "%s|%s" % (instance_name, _hexlify(version + nonce + sealed))


def split_admin_key(admin_key, field="admin_key"):
    """Split an admin key as the backend's HTTP layer and key broker do.

    Returns ``(name, encrypted_hex)``; ``name`` is None when the key carries no
    readable name (no ``|``, or a ``preview:``/``project:`` type prefix, which
    the backend drops together with the name). A ``prod:``-style type prefix is
    removed from the name. Raises KeyFormatError for text that cannot be a key.
    """
    if not isinstance(admin_key, str):
        raise KeyFormatError("%s must be a string, got %s" % (field, type(admin_key).__name__))
    if not admin_key:
        raise KeyFormatError("%s is empty" % field)
    problem = _describe_whitespace(admin_key, field)
    if problem:
        raise KeyFormatError(problem)
    if "|" not in admin_key:
        name, encrypted = None, admin_key
    else:
        name, encrypted = admin_key.split("|", 1)
        if ":" in name:
            type_prefix, rest = name.split(":", 1)
            name = None if type_prefix.lower() in NAMELESS_TYPE_PREFIXES else rest
    if not encrypted:
        raise KeyFormatError("%s has nothing after '|'" % field)
    return name, encrypted


def _decode_hex(encrypted, field):
    """Hex-decode like ``const_hex::decode`` (any case, optional 0x prefix)."""
    digits = encrypted[2:] if encrypted[:2] in ("0x", "0X") else encrypted
    if any(char not in _HEX_DIGITS for char in digits):
        if ":" in digits:
            raise KeyFormatError(
                "%s contains ':' after the instance name; the backend reads what follows as an "
                "acting-user identity, so this is not a plain admin key" % field)
        raise KeyFormatError("%s is not '<instance name>|<hex>': the encrypted part is not hexadecimal" % field)
    if len(digits) % 2:
        raise KeyFormatError("%s has an odd number of hex digits" % field)
    data = binascii.unhexlify(digits)
    if len(data) < MIN_ENCRYPTED_BYTES:
        raise KeyFormatError(
            "%s is too short to be an admin key (%d bytes after '|', at least %d needed)"
            % (field, len(data), MIN_ENCRYPTED_BYTES))
    return data


def check_admin_key(admin_key, instance_name, instance_secret):
    """Tell whether the backend with this name and secret accepts ``admin_key``.

    Returns an :class:`AdminKeyCheck`. A key that is merely invalid (other
    secret, other instance, tampered, legacy format) gives ``valid=False`` with
    a reason; KeyFormatError is raised only for a malformed secret or for text
    that is not an admin key at all. The reason never contains key or secret.
    """
    validate_instance_name(instance_name)
    secret_bytes = parse_instance_secret(instance_secret)
    name, encrypted = split_admin_key(admin_key)
    data = _decode_hex(encrypted, "admin_key")

    if data[0] != ADMIN_KEY_VERSION:
        return AdminKeyCheck(False, "unsupported admin key version %d (expected %d)" % (data[0], ADMIN_KEY_VERSION),
                             key_instance_name=name)
    version = data[:1]
    nonce = data[1:1 + NONCE_BYTES]
    try:
        plaintext = _cipher(secret_bytes).decrypt(nonce, data[1 + NONCE_BYTES:], version)
    except InvalidTag:
        return AdminKeyCheck(
            False,
            "the key does not decrypt with this instance secret (other secret, altered key, or a "
            "legacy-format key, which this module does not check)",
            key_instance_name=name)
    try:
        fields = decode_admin_key_message(plaintext)
    except _ProtoError as exc:
        return AdminKeyCheck(False, "decrypted payload is not an AdminKey message: %s" % exc, key_instance_name=name)

    if name is None:
        name = fields["instance_name"]
    details = dict(key_instance_name=name, issued_s=fields["issued_s"], member_id=fields["member_id"],
                   system=fields["system"], read_only=fields["read_only"])
    if name is None:
        return AdminKeyCheck(False, "the key names no instance (no '<name>|' part and none inside)", **details)
    if name != instance_name:
        return AdminKeyCheck(False, "the key is for instance %r, not %r" % (name, instance_name), **details)
    if not fields["issued_s"]:
        return AdminKeyCheck(False, "the key has no issue time", **details)
    if fields["member_id"] is None and not fields["system"]:
        return AdminKeyCheck(False, "the key has no identity (member id or system)", **details)
    return AdminKeyCheck(True, "valid", **details)
