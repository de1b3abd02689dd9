"""The tool's RSA key pair: the public half as a JWK for the LMS, the private half to sign with.

The key id (``kid``) is the key's RFC 7638 thumbprint, so the JWK ``coursehub build`` writes from the
public key and the assertions ``grades push`` signs with the private key name the same key without
anyone copying an id around.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from coursehub.errors import CoursehubError


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(public_key) -> dict:
    """The JWK of an RSA public key (``cryptography`` object), with ``kid``, ``alg`` and ``use``."""
    numbers = public_key.public_numbers()
    jwk = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
    # RFC 7638: the SHA-256 of the required members, sorted, without whitespace
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode("ascii")
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def load_public_key(path: Path):
    """An RSA public key from a PEM file; a located error (never the file's text) otherwise."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise CoursehubError(f"{path}: not a PEM public key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise CoursehubError(f"{path}: the tool key must be RSA (LTI 1.3 signs with RS256)")
    return key


def load_private_key(*, file: str | Path | None, env: str | None):
    """The tool's RSA private key from ``file`` or the environment variable ``env`` (PEM).

    Errors say where the key was looked for, never what was read.
    """
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if file:
        where = str(file)
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CoursehubError(f"cannot read the tool's private key {where}: {exc.strerror}") from None
    else:
        where = f"${env}"
        data = os.environ.get(env or "", "").encode()
        if not data.strip():
            raise CoursehubError(
                f"the tool's private key is not set: put it (PEM) in {where}, or name a file with "
                "`hub.lms.lti13.private_key_file` or --key-file"
            )
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CoursehubError(f"the tool's private key in {where} is not an unencrypted PEM key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CoursehubError(f"the tool's private key in {where} must be RSA (LTI 1.3 signs with RS256)")
    return key
