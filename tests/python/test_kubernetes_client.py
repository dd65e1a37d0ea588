"""The official Python `kubernetes` client against `pylon server`: list, watch, create, patch, delete."""

import pytest
from kubernetes import client, config, watch


@pytest.fixture(scope="module")
def api(kubeconfig):
    return config.new_client_from_config(config_file=kubeconfig)


def test_list_namespaces(api):
    names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_create_patch_delete_service(api):
    core = client.CoreV1Api(api)
    body = client.V1Service(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=80, name="http")]),
    )
    created = core.create_namespaced_service("default", body)
    assert created.spec.cluster_ip.startswith("10.43.")
    assert 30000 <= created.spec.ports[0].node_port <= 32767
    patched = core.patch_namespaced_service("web", "default", {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    status = core.patch_namespaced_service_status(
        "web", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.100"}]}}}
    )
    assert status.status.load_balancer.ingress[0].ip == "192.0.2.100"
    core.delete_namespaced_service("web", "default")
    with pytest.raises(client.exceptions.ApiException) as gone:
        core.read_namespaced_service("web", "default")
    assert gone.value.status == 404


def test_watch_sees_changes(api):
    core = client.CoreV1Api(api)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1"), data={"a": "1"}))
    core.patch_namespaced_config_map("w1", "default", {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w1", "default")
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=10):
        seen.append((event["type"], event["object"].metadata.name, (event["object"].data or {}).get("a")))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "w1", "1"), ("MODIFIED", "w1", "2"), ("DELETED", "w1", "2")]


def test_conflict_on_stale_resource_version(api):
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1")))
    core.patch_namespaced_config_map("c1", "default", {"data": {"x": "y"}})
    cm.data = {"x": "stale"}
    with pytest.raises(client.exceptions.ApiException) as conflict:
        core.replace_namespaced_config_map("c1", "default", cm)
    assert conflict.value.status == 409
    assert '"reason":"Conflict"' in conflict.value.body
