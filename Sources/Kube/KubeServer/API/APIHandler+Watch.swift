import KubeAPI

extension APIHandler {
    /// How often an idle watch with `allowWatchBookmarks` receives a BOOKMARK.
    static let bookmarkInterval: Duration = .seconds(5)
    /// Events waiting for a watch are written together up to about this many bytes per chunk.
    static let watchChunkSize = 64 * 1024

    /// Streams watch events as newline-delimited JSON until `timeoutSeconds`, the client leaving, or the watcher
    /// falling too far behind.
    func watch(_ request: APIRequest, resource: ResourceType, version: String, namespace: String?) throws(Status)
        -> APIResponse
    {
        var selection = try filter(request, resource: resource, namespace: namespace)
        let rvText = request.query["resourceVersion"] ?? ""
        let from: Int64?
        if rvText.isEmpty || rvText == "0" {
            from = nil
        } else {
            guard let rv = Int64(rvText) else {
                throw .badRequest("invalid resource version: \(rvText)")
            }
            from = rv
        }
        selection.namespace = namespace
        let client = request.client ?? "unknown"
        let limiter = self.limiter
        if let limiter, !limiter.acquire(.watch, for: client) {
            throw Status(
                code: 429, reason: "TooManyRequests",
                message:
                    "too many watches from \(client): at most \(limiter.limits.watchesPerClient) at once (--max-watches-per-client)",
                details: ["retryAfterSeconds": 1])
        }
        let events: WatchBuffer
        let id: UInt64
        do throws(Status) {
            (events, id, _) = try storage.watch(selection, from: from)
        } catch {
            limiter?.release(.watch, for: client)
            throw error
        }
        let bookmarks = isTrue(request.query["allowWatchBookmarks"]) && !wantsTable(request)
        let asTable = wantsTable(request)
        let timeout = request.query["timeoutSeconds"].flatMap(Int.init).map { Duration.seconds($0) } ?? .seconds(1800)
        let storage = self.storage
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let task = Task {
            defer {
                storage.stopWatch(id)
                limiter?.release(.watch, for: client)
                continuation.finish()
            }
            let deadline = ContinuousClock.now + timeout
            try? await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(until: deadline, clock: .continuous)
                }
                if bookmarks {
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: APIHandler.bookmarkInterval)
                            let revision = storage.currentRevision
                            let bookmark: JSON = [
                                "type": "BOOKMARK",
                                "object": [
                                    "kind": .string(resource.kind), "apiVersion": .string(resource.apiVersion(version)),
                                    "metadata": ["resourceVersion": .string(String(revision))],
                                ],
                            ]
                            var line = bookmark.serialized()
                            line.append(0x0A)
                            continuation.yield(line)
                        }
                    }
                }
                group.addTask {
                    var firstTable = true
                    for try await batch in events {
                        // The events waiting go out together, in chunks of about `watchChunkSize` bytes.
                        var chunk: [UInt8] = []
                        for event in batch {
                            if chunk.count >= APIHandler.watchChunkSize {
                                continuation.yield(chunk)
                                chunk = []
                            }
                            chunk.append(contentsOf: "{\"type\":\"\(event.kind.wireName)\",\"object\":".utf8)
                            if asTable {
                                let rowTable = self.table(
                                    resource: resource, version: version,
                                    objects: [self.present(event.object.json, resource, version)],
                                    listMeta: ["resourceVersion": .string(String(event.object.revision))],
                                    request: request, includeColumns: firstTable)
                                firstTable = false
                                rowTable.write(to: &chunk)
                            } else if version == resource.storageVersion {
                                chunk.append(contentsOf: event.object.bytes)
                            } else {
                                self.present(event.object.json, resource, version).write(to: &chunk)
                            }
                            chunk.append(contentsOf: "}\n".utf8)
                        }
                        continuation.yield(chunk)
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return APIResponse(
            status: 200, headers: ["transfer-encoding": "chunked"], body: .stream(stream),
            onClientGone: { task.cancel() })
    }
}
