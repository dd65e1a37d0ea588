import KubeAPI

/// Requests from the controllers that run inside `pylon server`: routed like any client's (validation, defaults,
/// watch events) but without authentication.
extension APIHandler {
    /// Sends one request and returns its status code and the body as JSON (nil when the body is not JSON).
    func perform(_ method: String, _ path: String, body: JSON? = nil) async -> (status: Int, object: JSON?) {
        let request = APIRequest(
            method: method, path: path, headers: body == nil ? [:] : ["content-type": "application/json"],
            body: body?.serialized() ?? [])
        do throws(Status) {
            let response = try await route(request)
            guard case .bytes(let bytes) = response.body else { return (response.status, nil) }
            return (response.status, try? JSONParser.parse(bytes))
        } catch {
            return (error.code, nil)
        }
    }

    /// The stored objects of a resource (`group`/`plural`), optionally in one namespace, as JSON.
    func stored(_ group: String, _ plural: String, namespace: String? = nil, labels: LabelSelector = .everything)
        -> [JSON]
    {
        guard let resource = registry.lookup(group: group, version: "v1", plural: plural)
        else { return [] }
        return storage.list(WatchFilter(prefix: resource.storagePrefix, namespace: namespace, labels: labels)).items
            .map { $0.1.json }
    }

    /// One stored object of a resource, as JSON; nil when there is none.
    func storedObject(_ group: String, _ plural: String, namespace: String, name: String) -> JSON? {
        guard let resource = registry.lookup(group: group, version: "v1", plural: plural) else { return nil }
        return storage.get(ObjectKey(prefix: resource.storagePrefix, namespace: namespace, name: name))?.json
    }
}
