"""An in-test TF Serving REST server: `POST /v1/models/<name>[/versions/<v>]:predict`.

    server, port = start(store)           # http.server in a daemon thread, 127.0.0.1
    ...
    stop(server)

Speaks TF Serving's columnar format: `{"signature_name": ..., "inputs": {name: value}}` in,
`{"outputs": {name: value}}` out, JSON values converted with the signature's input dtypes and
float32 outputs written as TF Serving writes them.
Errors are TF Serving's bodies `{"error": "..."}`: 404 for an unknown model or version, 400
for bad input (tests.serving.model_store maps them). With `tls` the socket speaks https.
"""

import http.server
import json
import re
import ssl
import threading

import grpc
import numpy as np

from tests.serving.model_store import ServingFailure

_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict")
_HTTP_STATUS = {grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.INVALID_ARGUMENT: 400}


def _from_json(value, spec):
    """A JSON input value as a numpy array of the signature input's dtype."""
    if spec.dtype.name == "string":
        return np.asarray(value.encode() if isinstance(value, str) else value, dtype=object)
    return np.asarray(value, dtype=spec.dtype.as_numpy_dtype)


def _to_json(value):
    """An output array as TF Serving writes it: float32 values as the shortest decimal that
    reads back as the same float32 (e.g. 0.2, not 0.20000000298), which as a float64 is
    not the float32's exact value."""
    if value.dtype == np.float32:
        return value.astype(str).astype(np.float64).tolist()
    return value.tolist()


def _handler(store):
    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, status, document):
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 (http.server's method name)
            match = _PATH.fullmatch(self.path)
            if match is None:
                self._reply(404, {"error": f"Malformed request: POST {self.path}"})
                return
            name, version = match.group(1), match.group(2) and int(match.group(2))
            try:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                signature_name = request.get("signature_name")
                specs = store.input_specs(name, version, signature_name)
                unknown = sorted(set(request["inputs"]) - set(specs))
                if unknown:
                    raise ServingFailure(grpc.StatusCode.INVALID_ARGUMENT,
                                         f"input tensor alias not found in signature: "
                                         f"{unknown[0]}")
                inputs = {key: _from_json(value, specs[key])
                          for key, value in request["inputs"].items()}
                outputs, _ = store.predict(name, version, signature_name, inputs)
            except ServingFailure as failure:
                self._reply(_HTTP_STATUS.get(failure.code, 500), {"error": failure.message})
                return
            except (ValueError, KeyError, TypeError) as error:
                self._reply(400, {"error": f"JSON Parse error: {error}"})
                return
            self._reply(200, {"outputs": {key: _to_json(value) for key, value in outputs.items()}})

        def log_message(self, *args):
            """Quiet: no access log on stderr."""

    return Handler


def start(store, tls=None):
    """Starts a server on 127.0.0.1 at a free port in a daemon thread.

    Args:
      store: tests.serving.model_store.ModelStore.
      tls: (private key PEM path, certificate chain PEM path) for https, or None (http).
    Returns:
      (http.server.ThreadingHTTPServer, port); stop it with `stop(server)`.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile=tls[1], keyfile=tls[0])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def stop(server):
    """Stops serving and closes the socket."""
    server.shutdown()
    server.server_close()
