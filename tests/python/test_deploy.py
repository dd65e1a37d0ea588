"""deploy/: every kustomize overlay renders, every rendered object validates against the Kubernetes JSON schemas
(`kubernetes-validate`) or, for metallb.io objects, against the CRD that defines them; every CRD is structural; the
default overlay applies cleanly to `pylon server` with the real kubectl."""

import copy
import os
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import ROOT
OVERLAYS = sorted(p.name for p in (ROOT / "deploy/overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.32"


def render(overlay):
    result = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy/overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_overlays_are_the_documented_ones():
    assert OVERLAYS == ["bgp-example", "default", "full", "metallb-system", "with-pod-network"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates(overlay):
    objects = render(overlay)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "DaemonSet", "ClusterRole", "Role", "ServiceAccount", "Service"} <= kinds
    crds = {
        (o["spec"]["group"], o["spec"]["names"]["kind"]): o
        for o in render("default")
        if o["kind"] == "CustomResourceDefinition"
    }
    for o in objects:
        group, _, version = o["apiVersion"].rpartition("/")
        if group == "metallb.io":
            schema = next(
                v["schema"]["openAPIV3Schema"] for v in crds[(group, o["kind"])]["spec"]["versions"] if v["name"] == version
            )
            jsonschema.validate(o, schema)
        else:
            kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_validation_would_catch_mistakes():
    """The checks above can fail: a misspelt field and a wrong type in a rendered object are reported."""
    deployment = next(o for o in render("default") if o["kind"] == "Deployment")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSION, strict=True)
    peer = next(o for o in render("bgp-example") if o["kind"] == "BGPPeer")
    crd = next(o for o in render("default") if o["kind"] == "CustomResourceDefinition" and o["spec"]["names"]["kind"] == "BGPPeer")
    schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == "v1beta2")
    peer["spec"]["myASN"] = "sixty-four thousand"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(peer, schema)


# Keywords a structural schema may not use anywhere, and those allowed inside allOf/anyOf/oneOf/not only without
# the ones that describe structure (apiextensions.k8s.io "Specifying a structural schema").
FORBIDDEN = {"$ref", "definitions", "dependencies", "additionalItems", "patternProperties", "id", "$schema"}
STRUCTURE = {"type", "properties", "items", "additionalProperties", "default", "description", "nullable"}


def structural_problems(schema, path="", in_logic=False, root=False):
    problems = []
    if not isinstance(schema, dict):
        return [f"{path}: not a schema"]
    for key in FORBIDDEN & schema.keys():
        problems.append(f"{path}: uses {key}")
    if in_logic:
        for key in STRUCTURE & schema.keys():
            problems.append(f"{path}: {key} inside allOf/anyOf/oneOf/not")
    elif "type" not in schema and not (
        schema.get("x-kubernetes-int-or-string") or schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        problems.append(f"{path or '.'}: no type")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: both properties and additionalProperties")
    for name, sub in schema.get("properties", {}).items():
        problems += structural_problems(sub, f"{path}.{name}", in_logic)
    if isinstance(schema.get("additionalProperties"), dict):
        problems += structural_problems(schema["additionalProperties"], f"{path}.*", in_logic)
    if "items" in schema:
        problems += structural_problems(schema["items"], f"{path}[]", in_logic)
    for logic in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(logic, [])):
            problems += structural_problems(sub, f"{path}.{logic}[{i}]", True)
    if "not" in schema:
        problems += structural_problems(schema["not"], f"{path}.not", True)
    if root:
        metadata = schema.get("properties", {}).get("metadata", {})
        extra = set(metadata.get("properties", {})) - {"name", "generateName"}
        if extra:
            problems.append(f"metadata: restricts {sorted(extra)}")
    return problems


def test_every_crd_is_structural():
    crds = [o for o in render("default") if o["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 9
    for crd in crds:
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            assert structural_problems(schema, root=True) == [], f"{crd['metadata']['name']} {version['name']}"
    assert structural_problems({"properties": {"spec": {"type": "object"}}}) == [".: no type"]
    assert structural_problems({"type": "object", "anyOf": [{"type": "string"}]}) == [".anyOf[0]: type inside allOf/anyOf/oneOf/not"]


def test_the_default_overlay_applies_cleanly_to_pylon_server(kubeconfig):
    env = dict(os.environ, KUBECONFIG=kubeconfig)

    def kubectl(*args):
        return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)

    first = kubectl("apply", "-k", str(ROOT / "deploy/overlays/default"))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert len(lines) == len(render("default")) and all(line.endswith(" created") for line in lines), first.stdout
    again = kubectl("apply", "-k", str(ROOT / "deploy/overlays/default"))
    assert again.returncode == 0, again.stderr
    assert all(line.endswith(" unchanged") for line in again.stdout.strip().splitlines()), again.stdout
    listed = kubectl("get", "deployments,daemonsets,serviceaccounts,services", "-n", "pylon-system", "-o", "name")
    assert set(listed.stdout.split()) >= {
        "deployment.apps/pylon-controller",
        "daemonset.apps/pylon-speaker",
        "serviceaccount/pylon-controller",
        "serviceaccount/pylon-speaker",
        "service/pylon-controller-metrics",
        "service/pylon-speaker-metrics",
    }, listed.stdout + listed.stderr


def test_the_pod_network_overlay_adds_the_overlay_daemonset(kubeconfig):
    env = dict(os.environ, KUBECONFIG=kubeconfig)

    def kubectl(*args):
        return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)

    rendered = render("with-pod-network")
    overlay = next(o for o in rendered if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "pylon-overlay")
    container = overlay["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "overlay"
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    role = next(o for o in rendered if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "pylon-overlay")
    assert role["rules"][0]["verbs"] == ["get", "list", "watch", "patch"]
    applied = kubectl("apply", "-k", str(ROOT / "deploy/overlays/with-pod-network"))
    assert applied.returncode == 0, applied.stderr
    listed = kubectl("get", "daemonsets,configmaps,serviceaccounts", "-n", "pylon-system", "-o", "name")
    assert {"daemonset.apps/pylon-overlay", "configmap/pylon-overlay", "serviceaccount/pylon-overlay"} <= set(
        listed.stdout.split()
    ), listed.stdout + listed.stderr


def test_the_full_overlay_adds_the_proxy_daemonset(kubeconfig):
    env = dict(os.environ, KUBECONFIG=kubeconfig)
    rendered = render("full")
    proxy = next(o for o in rendered if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "pylon-proxy")
    container = proxy["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "proxy"
    assert container["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    assert proxy["spec"]["template"]["spec"]["hostNetwork"] is True
    role = next(o for o in rendered if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "pylon-proxy")
    assert {r["resources"][0]: r["verbs"] for r in role["rules"]} == {
        "services": ["list", "watch"],
        "endpointslices": ["list", "watch"],
        "nodes": ["get"],
    }
    assert any(o["kind"] == "DaemonSet" and o["metadata"]["name"] == "pylon-overlay" for o in rendered)
    applied = subprocess.run(
        ["kubectl", "apply", "-k", str(ROOT / "deploy/overlays/full")], capture_output=True, text=True, env=env, timeout=60
    )
    assert applied.returncode == 0, applied.stderr

