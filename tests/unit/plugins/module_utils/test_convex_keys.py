# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Hansenexus platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the Convex instance secret / admin key logic.

The UPSTREAM_VECTORS below were produced by the upstream implementation: a
throwaway Rust program (outside this repository) that compiled the unmodified
``crates/keybroker/src/encryptor.rs`` and ``secret.rs`` of get-convex/convex-backend
(commit 94a42c3db8d7ba6d9fe36f2698f9d9d9daaac731) with aws-lc-rs 1.17.0, prost 0.14.3
and ``convex_keys.proto`` compiled by prost-build, and called them as
``KeyBroker::issue_key`` does. Only the resulting strings are stored here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import hmac

import pytest

from ansible_collections.hansenexus.platform.plugins.module_utils import convex_keys
from ansible_collections.hansenexus.platform.plugins.module_utils.convex_keys import (
    check_admin_key,
    decode_admin_key_message,
    derive_subkey,
    encode_admin_key_message,
    generate_instance_secret,
    issue_admin_key,
    normalize_instance_secret,
    parse_instance_secret,
    split_admin_key,
    validate_instance_name,
    validate_instance_secret,
)
from ansible_collections.hansenexus.platform.plugins.module_utils.errors import (
    KeyFormatError,
    PlatformError,
    ValidationError,
)

SECRET = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
OTHER_SECRET = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
NAME = "convex-self-hosted"
# sha256("hansenexus convex test vector")
SECRET2 = "03a7ed563cf34413b1259481d42c9c27ccbc6b9c40ffdf88078064a234f3f13d"

# (instance_name, secret, key issued by upstream code, issued_s, member_id, system, read_only)
UPSTREAM_VECTORS = [
    (NAME, SECRET,
     "convex-self-hosted|0148e8d0cf03f8aa4be17e27a603a7721b12fd62801e14048a886718eb7733b9575fb0f012",
     1700000000, 0, False, False),
    (NAME, SECRET,
     "convex-self-hosted|01af1e80de36089c404f90d7781c746864817372549bf46d2158694bd589840c1377dd7bb1",
     1700000000, None, True, False),
    (NAME, SECRET,
     "convex-self-hosted|01491740ba359eda39854f0ad5dd7203c8c03e5627de3b356ef76cf2837e6f72e5eae396cbe129",
     1700000000, 7, False, True),
    ("convex-planex-prod", SECRET2,
     "convex-planex-prod|0128173b3cd42c2c64598e99e0fb09ad5a146f991ff953be950dd7a4fa155429466c86820d",
     1767225600, 0, False, False),
    ("convex-planex-prod", SECRET2,
     "convex-planex-prod|01ef41e958819669b57e3ca805fbb7a214ae14b4510398bacd6a81c14b9a633374c51d74cc",
     1767225600, 0, False, False),
]
# aws-lc-rs kbkdf_ctr_hmac(SHA-256, secret=bytes(range(32)), info=b"admin key") -> 16 bytes
UPSTREAM_SUBKEY = "ce918d08f04afa58eadfa56cf8eedc2a"


def _nonce_of(key):
    return binascii.unhexlify(key.split("|", 1)[1])[1:13]


def _flip(key, index):
    """Flip one bit of byte ``index`` of the encrypted part."""
    name, encrypted = key.split("|", 1)
    data = bytearray(binascii.unhexlify(encrypted))
    data[index] ^= 0x01
    return name + "|" + binascii.hexlify(bytes(data)).decode("ascii")


# ---------------------------------------------------------------- upstream vectors

def test_kdf_matches_upstream_vector():
    assert binascii.hexlify(derive_subkey(bytes(bytearray(range(32))))).decode() == UPSTREAM_SUBKEY


def test_kdf_is_counter_mode_hmac_sha256():
    secret = binascii.unhexlify(SECRET2)
    expected = hmac.new(secret, b"\x00\x00\x00\x01admin key", hashlib.sha256).digest()[:16]
    assert derive_subkey(secret) == expected
    # longer output takes the next counter block
    second = hmac.new(secret, b"\x00\x00\x00\x02admin key", hashlib.sha256).digest()
    assert derive_subkey(secret, length=40) == hmac.new(
        secret, b"\x00\x00\x00\x01admin key", hashlib.sha256).digest() + second[:8]


@pytest.mark.parametrize("name,secret,key,issued_s,member_id,system,read_only", UPSTREAM_VECTORS)
def test_upstream_key_validates(name, secret, key, issued_s, member_id, system, read_only):
    result = check_admin_key(key, name, secret)
    assert result.valid, result.reason
    assert result.reason == "valid"
    assert (result.issued_s, result.member_id, result.system, result.read_only) == (
        issued_s, member_id, system, read_only)
    assert result.key_instance_name == name


@pytest.mark.parametrize("name,secret,key,issued_s,member_id,system,read_only", UPSTREAM_VECTORS)
def test_issue_reproduces_upstream_bytes(name, secret, key, issued_s, member_id, system, read_only):
    mine = issue_admin_key(name, secret, issued_s=issued_s, member_id=member_id or 0, system=system,
                           read_only=read_only, nonce=_nonce_of(key))
    assert mine == key


# ---------------------------------------------------------------- issue / check round trips

def test_member_zero_key_has_74_hex_characters():
    key = issue_admin_key(NAME, SECRET)
    name, encrypted = key.split("|")
    assert name == NAME
    assert len(encrypted) == 74
    assert encrypted == encrypted.lower()
    assert encrypted.startswith("01")


def test_issue_uses_now_and_member_zero(monkeypatch):
    monkeypatch.setattr(convex_keys.time, "time", lambda: 1767225600.9)
    result = check_admin_key(issue_admin_key(NAME, SECRET), NAME, SECRET)
    assert (result.valid, result.issued_s, result.member_id, result.system, result.read_only) == (
        True, 1767225600, 0, False, False)


def test_keys_are_randomized_but_deterministic_with_injected_nonce():
    assert issue_admin_key(NAME, SECRET, issued_s=5) != issue_admin_key(NAME, SECRET, issued_s=5)
    nonce = b"\x07" * 12
    first = issue_admin_key(NAME, SECRET, issued_s=5, nonce=nonce)
    assert first == issue_admin_key(NAME, SECRET, issued_s=5, nonce=nonce)
    assert first != issue_admin_key(NAME, SECRET, issued_s=6, nonce=nonce)


@pytest.mark.parametrize("kwargs,expected", [
    (dict(), (0, False, False)),
    (dict(member_id=42), (42, False, False)),
    (dict(member_id=2 ** 64 - 1, read_only=True), (2 ** 64 - 1, False, True)),
    (dict(system=True), (None, True, False)),
])
def test_round_trip_identities(kwargs, expected):
    key = issue_admin_key(NAME, SECRET, issued_s=1767225600, **kwargs)
    result = check_admin_key(key, NAME, SECRET)
    assert result.valid
    assert (result.member_id, result.system, result.read_only) == expected


def test_uppercase_and_prefixed_secret_give_the_same_subkey():
    key = issue_admin_key(NAME, SECRET.upper())
    assert check_admin_key(key, NAME, "0x" + SECRET).valid
    assert check_admin_key(key, NAME, SECRET).valid


# ---------------------------------------------------------------- invalid keys

@pytest.mark.parametrize("index", range(37))
def test_every_flipped_byte_is_rejected(index):
    key = issue_admin_key(NAME, SECRET, issued_s=1767225600)
    result = check_admin_key(_flip(key, index), NAME, SECRET)
    assert not result.valid
    if index == 0:
        assert "version" in result.reason
    else:
        assert "does not decrypt" in result.reason
        assert result.issued_s is None and result.member_id is None


def test_wrong_secret_is_rejected_without_leaking():
    key = issue_admin_key(NAME, SECRET)
    result = check_admin_key(key, NAME, OTHER_SECRET)
    assert not result.valid
    assert "does not decrypt" in result.reason
    assert SECRET not in repr(result) and OTHER_SECRET not in repr(result)
    assert key.split("|")[1] not in result.reason


def test_wrong_name_is_rejected():
    key = issue_admin_key("convex-a", SECRET, issued_s=1767225600)
    result = check_admin_key(key, "convex-b", SECRET)
    assert not result.valid
    assert result.reason == "the key is for instance 'convex-a', not 'convex-b'"
    assert result.key_instance_name == "convex-a"
    assert result.issued_s == 1767225600  # decrypted fine: the name is not authenticated


def test_swapped_name_is_accepted_because_names_are_not_authenticated():
    key = issue_admin_key("convex-a", SECRET)
    renamed = "convex-b|" + key.split("|", 1)[1]
    assert check_admin_key(renamed, "convex-b", SECRET).valid


@pytest.mark.parametrize("prefix", ["prod:", "dev:", "PROD:", "anything:"])
def test_type_prefix_is_removed_from_the_name(prefix):
    key = issue_admin_key(NAME, SECRET)
    result = check_admin_key(prefix + key, NAME, SECRET)
    assert result.valid
    assert result.key_instance_name == NAME


@pytest.mark.parametrize("prefix", ["preview:team:", "project:team:", "Preview:"])
def test_preview_and_project_prefixes_drop_the_name(prefix):
    key = issue_admin_key(NAME, SECRET)
    result = check_admin_key(prefix + key, NAME, SECRET)
    assert not result.valid
    assert result.key_instance_name is None
    assert "names no instance" in result.reason


def test_only_the_first_colon_prefix_is_removed():
    result = check_admin_key("a:b:" + issue_admin_key(NAME, SECRET), NAME, SECRET)
    assert not result.valid
    assert result.key_instance_name == "b:" + NAME


def test_key_without_name_part_is_invalid():
    encrypted = issue_admin_key(NAME, SECRET).split("|", 1)[1]
    result = check_admin_key(encrypted, NAME, SECRET)
    assert not result.valid
    assert "names no instance" in result.reason


def test_name_inside_the_message_is_used_when_the_key_has_none():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
    nonce = b"\x01" * 12
    plaintext = encode_admin_key_message(99, instance_name=NAME)
    sealed = AESGCMSIV(derive_subkey(binascii.unhexlify(SECRET))).encrypt(nonce, plaintext, b"\x01")
    encrypted = binascii.hexlify(b"\x01" + nonce + sealed).decode()
    result = check_admin_key(encrypted, NAME, SECRET)
    assert result.valid and result.key_instance_name == NAME and result.issued_s == 99


def _seal(plaintext, secret=SECRET):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
    nonce = b"\x02" * 12
    sealed = AESGCMSIV(derive_subkey(binascii.unhexlify(secret))).encrypt(nonce, plaintext, b"\x01")
    return NAME + "|" + binascii.hexlify(b"\x01" + nonce + sealed).decode()


@pytest.mark.parametrize("plaintext,reason", [
    (b"\x18\x00", "no issue time"),                      # issued_s missing
    (b"\x10\x05", "no identity"),                        # identity missing
    (b"\x10\x05\x18", "not an AdminKey message"),        # truncated varint
    (b"\x12\x01", "not an AdminKey message"),            # issued_s with wrong wire type
    (b"\x0a\x02\xff\xfe\x10\x05\x18\x00", "not an AdminKey message"),  # name not UTF-8
])
def test_authenticated_but_unusable_payloads(plaintext, reason):
    result = check_admin_key(_seal(plaintext), NAME, SECRET)
    assert not result.valid
    assert reason in result.reason


def test_legacy_length_key_is_reported_not_valid():
    legacy_like = NAME + "|01" + "ab" * 48  # 1 + 24 nonce + 8 + 16 tag bytes, like a secretbox key
    result = check_admin_key(legacy_like, NAME, SECRET)
    assert not result.valid
    assert "legacy" in result.reason


# ---------------------------------------------------------------- malformed keys

@pytest.mark.parametrize("key,message", [
    ("", "admin_key is empty"),
    (NAME + "|", "nothing after '|'"),
    (NAME + "|zz" + "00" * 36, "not hexadecimal"),
    (NAME + "|" + "0" * 73, "odd number of hex digits"),
    (NAME + "|0100", "too short"),
    (NAME + "|" + "00" * 37 + ":e30=", "acting-user"),
    (NAME + "|" + "00" * 37 + "\n", "ends with a newline"),
    (" " + NAME + "|" + "00" * 37, "starts with whitespace"),
    (NAME + " |" + "00" * 37, "contains whitespace"),
])
def test_malformed_keys_raise(key, message):
    with pytest.raises(KeyFormatError) as excinfo:
        check_admin_key(key, NAME, SECRET)
    assert message in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_trailing_newline_on_a_real_key_is_reported_without_echoing_it():
    key = issue_admin_key(NAME, SECRET)
    with pytest.raises(KeyFormatError) as excinfo:
        check_admin_key(key + "\n", NAME, SECRET)
    assert "ends with a newline" in str(excinfo.value)
    assert key.split("|")[1] not in str(excinfo.value)


def test_split_admin_key():
    assert split_admin_key("prod:n|00") == ("n", "00")
    assert split_admin_key("n|00|11") == ("n", "00|11")
    assert split_admin_key("00") == (None, "00")
    assert split_admin_key("project:a:b|00") == (None, "00")
    with pytest.raises(KeyFormatError):
        split_admin_key(None)


# ---------------------------------------------------------------- instance secret

def test_generate_instance_secret_is_64_lowercase_hex():
    secret = generate_instance_secret()
    assert len(secret) == 64
    assert secret == secret.lower()
    assert len(parse_instance_secret(secret)) == 32
    assert secret != generate_instance_secret()


def test_generate_instance_secret_uses_the_random_source():
    assert generate_instance_secret(lambda n: b"\xab" * n) == "ab" * 32
    with pytest.raises(PlatformError):
        generate_instance_secret(lambda n: b"\x00")


@pytest.mark.parametrize("secret", [SECRET, SECRET.upper(), "0x" + SECRET, "0X" + SECRET.upper()])
def test_secret_forms_the_backend_accepts(secret):
    assert parse_instance_secret(secret) == bytes(bytearray(range(32)))
    assert normalize_instance_secret(secret) == SECRET
    validate_instance_secret(secret)


@pytest.mark.parametrize("secret,message", [
    (SECRET + "\n", "instance_secret ends with a newline"),
    (SECRET + "\r\n", "instance_secret ends with a newline"),
    (SECRET + " ", "instance_secret ends with whitespace"),
    ("\t" + SECRET, "instance_secret starts with whitespace"),
    (SECRET[:32] + " " + SECRET[32:], "instance_secret contains whitespace"),
    (SECRET[:63], "has 63 hex characters; it must have exactly 64"),
    (SECRET + "00", "has 66 hex characters"),
    ("0x" + SECRET[:62], "has 62 hex characters"),
    (SECRET[:10] + "g" + SECRET[11:], "non-hex character at position 11"),
    ("0x" + SECRET[:10] + "g" + SECRET[11:], "non-hex character at position 13"),
    ("", "instance_secret is empty"),
    (None, "instance_secret must be a string"),
])
def test_malformed_secrets(secret, message):
    with pytest.raises(KeyFormatError) as excinfo:
        parse_instance_secret(secret)
    assert message in str(excinfo.value)
    if secret:
        assert secret.strip() not in str(excinfo.value)
        assert SECRET[:16] not in str(excinfo.value)


def test_malformed_secret_names_the_field():
    with pytest.raises(KeyFormatError) as excinfo:
        parse_instance_secret("abc", field="apps[0].secret")
    assert str(excinfo.value).startswith("apps[0].secret ")


def test_issue_and_check_refuse_malformed_secrets():
    with pytest.raises(KeyFormatError, match="ends with a newline"):
        issue_admin_key(NAME, SECRET + "\n")
    key = issue_admin_key(NAME, SECRET)
    with pytest.raises(KeyFormatError, match="63 hex characters"):
        check_admin_key(key, NAME, SECRET[:63])


# ---------------------------------------------------------------- instance name

@pytest.mark.parametrize("name", [NAME, "convex-planex-prod", "a", "Carnitas_1.2"])
def test_valid_instance_names(name):
    assert validate_instance_name(name) == name


@pytest.mark.parametrize("name,message", [
    ("", "is empty"),
    ("prod:name", "contains ':'"),
    ("a|b", "contains '|'"),
    ("name\n", "ends with a newline"),
    ("my name", "contains whitespace"),
    (u"caf\u00e9", "outside printable ASCII"),
    ("a\x00b", "outside printable ASCII"),
    (3, "must be a string"),
])
def test_invalid_instance_names(name, message):
    with pytest.raises(ValidationError) as excinfo:
        validate_instance_name(name)
    assert message in str(excinfo.value)
    with pytest.raises(ValidationError):
        issue_admin_key(name, SECRET)


# ---------------------------------------------------------------- protobuf encoding

@pytest.mark.parametrize("kwargs,expected", [
    (dict(issued_s=1700000000), "1080e2cfaa061800"),
    (dict(issued_s=1, system=True), "10012200"),
    (dict(issued_s=1, member_id=300, read_only=True), "100118ac022801"),
    (dict(issued_s=0, instance_name="ab"), "0a0261621800"),
])
def test_encode_admin_key_message(kwargs, expected):
    assert binascii.hexlify(encode_admin_key_message(**kwargs)).decode() == expected


def test_decode_is_last_value_wins_and_skips_unknown_fields():
    # member_id 1 then system (oneof: last wins), unknown fields 6 (varint), 7 (fixed64), 8 (fixed32)
    data = binascii.unhexlify("".join(["1001", "1801", "2200", "3005", "390000000000000000", "4500000000"]))
    fields = decode_admin_key_message(data)
    assert fields == dict(instance_name=None, issued_s=1, member_id=None, system=True, read_only=False)


@pytest.mark.parametrize("data", ["00", "10", "10ffffffffffffffffff7f", "0a05ab", "3b", "2201ff"])
def test_decode_rejects_malformed_messages(data):
    with pytest.raises(convex_keys._ProtoError):
        decode_admin_key_message(binascii.unhexlify(data))


@pytest.mark.parametrize("kwargs", [
    dict(issued_s=0),
    dict(issued_s=-1),
    dict(issued_s=2 ** 64),
    dict(issued_s=True),
    dict(issued_s=1, nonce=b"short"),
    dict(issued_s=1, member_id=-1),
])
def test_issue_rejects_bad_parameters(kwargs):
    with pytest.raises(ValidationError):
        issue_admin_key(NAME, SECRET, **kwargs)


def test_missing_cryptography_is_a_platform_error(monkeypatch):
    monkeypatch.setattr(convex_keys, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(PlatformError, match="cryptography"):
        issue_admin_key(NAME, SECRET)
    # generating a secret needs no cryptography
    assert len(generate_instance_secret()) == 64
