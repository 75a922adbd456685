"""A stand-in for the Hugging Face hub on 127.0.0.1, which cannot be reached from here: the two routes huggingface_hub
uses to list a repo and download a file (`/api/models/ORG/NAME[/revision/REV]` and `/ORG/NAME/resolve/REV/FILE`),
answered as the hub answers them (JSON listing with sizes; X-Repo-Commit, ETag and Content-Length headers), so the
online path of the resolution and huggingface_hub's own download code run for real with HF_ENDPOINT pointing here."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


class HubStandIn:
    """Serve `repos` ({repo id: {file name: path}}), each at a fixed commit, until close()."""

    def __init__(self, repos: dict[str, dict[str, Path]]):
        self.repos = {repo: (hashlib.sha1(f"online {repo}".encode()).hexdigest(), files)
                      for repo, files in repos.items()}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def commit(self, repo: str) -> str:
        return self.repos[repo][0]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the test reads hub.requests instead
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    return self._listing("/".join(parts[2:4]), body)
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._file("/".join(parts[:2]), "/".join(parts[4:]), body)
                self._missing("EntryNotFound")

            def _listing(self, repo: str, body: bool) -> None:
                if repo not in hub.repos:
                    return self._missing("RepoNotFound")
                commit, files = hub.repos[repo]
                data = json.dumps({"id": repo, "modelId": repo, "sha": commit, "private": False,
                                   "siblings": [{"rfilename": name, "size": p.stat().st_size}
                                                for name, p in sorted(files.items())]}).encode()
                self._send(200, data, {"Content-Type": "application/json"}, body)

            def _file(self, repo: str, name: str, body: bool) -> None:
                if repo not in hub.repos:
                    return self._missing("RepoNotFound")
                commit, files = hub.repos[repo]
                if name not in files:
                    return self._missing("EntryNotFound")
                data = files[name].read_bytes()
                etag = hashlib.sha256(data).hexdigest()
                self._send(200, data, {"X-Repo-Commit": commit, "ETag": f'"{etag}"',
                                       "Content-Type": "application/octet-stream"}, body)

            def _missing(self, code: str) -> None:
                self._send(404, b'{"error": "not found"}', {"X-Error-Code": code, "Content-Type": "application/json"},
                           self.command == "GET")

            def _send(self, status: int, data: bytes, headers: dict, body: bool) -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
