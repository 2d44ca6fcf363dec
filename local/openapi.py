"""`make openapi`: the API's OpenAPI document, generated from the functions' own resolvers.

Every function of template.yaml with an `Api` event on the stack's `Api` or `OperatorApi` is loaded as Lambda
loads it (its environment from the template, nothing reaching AWS), and the module-level
`app` resolver of its handler module contributes its routes; each path's `servers` name the
API(s) whose events serve it. The merged document is written
to docs/openapi.json and into the common layer, from which GET /openapi.json serves it.

    make openapi                        # or: python -m local.openapi [--check]
"""

import argparse
import importlib.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parent.parent / "layers" / "common"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))

from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402

from local.stack import DEMO_PARAMETERS, OFFLINE_ENVIRONMENT, PHYSICAL  # noqa: E402
from local.template import ROOT, FunctionDefinition, Template  # noqa: E402
from sagechain.inference import openapi  # noqa: E402

API_IDS = ("Api", "OperatorApi")
OUTPUTS = (ROOT / "docs" / "openapi.json", LAYER / "sagechain" / "inference" / openapi.PUBLISHED_FILE)


def _uses_api(resource: dict[str, Any]) -> bool:
    events = resource.get("Properties", {}).get("Events", {}).values()
    return any(
        event.get("Type") == "Api"
        and event.get("Properties", {}).get("RestApiId") in [{"Ref": api} for api in API_IDS]
        for event in events
    )


def api_functions(template: Template) -> list[FunctionDefinition]:
    """The functions behind the stack's two APIs, in template order."""
    resources = template.document["Resources"]
    return [f for f in template.functions() if _uses_api(resources[f.logical_id])]


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_app(definition: FunctionDefinition) -> APIGatewayRestResolver:
    """The function's module-level `app`, its module imported under its own environment."""
    module_name = definition.handler.rsplit(".", 1)[0]
    path = definition.code_dir / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"openapi_{definition.logical_id}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    with _environment({**OFFLINE_ENVIRONMENT, **definition.environment}):
        spec.loader.exec_module(module)
    app = getattr(module, "app", None)
    if not isinstance(app, APIGatewayRestResolver):
        raise TypeError(f"{path} has events on the Api but no module-level `app` resolver")
    return app


def document() -> str:
    """The merged OpenAPI document of every function behind the two APIs."""
    template = Template(PHYSICAL, DEMO_PARAMETERS)
    functions = api_functions(template)
    path_apis: dict[str, list[str]] = {}
    for definition in functions:
        for _method, path, api in definition.api_routes:
            if api in API_IDS and api not in path_apis.setdefault(path, []):
                path_apis[path].append(api)
    for apis in path_apis.values():
        apis.sort(key=API_IDS.index)
    return openapi.merged_document([load_app(definition) for definition in functions], path_apis)


def main() -> int:
    """Write the document (or, with --check, fail when a written copy is stale)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a written copy is not current")
    args = parser.parse_args()
    text = document()
    stale = [path for path in OUTPUTS if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run: make openapi)")
        return 1 if stale else 0
    for path in stale:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
