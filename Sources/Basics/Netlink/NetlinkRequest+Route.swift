import NetCore

extension NetlinkRequest {
    /// `RTM_NEWROUTE`: with `replace`, `NLM_F_CREATE | NLM_F_REPLACE` (`ip route replace`: adds or overwrites);
    /// otherwise `NLM_F_CREATE | NLM_F_EXCL` (`ip route add`: EEXIST when the route exists). Attributes in
    /// iproute2's order: destination (omitted for an IPv4 default route, as `ip` does), preferred source, gateway,
    /// metric, table above 255, output interface.
    public static func addRoute(_ route: Route, replace: Bool = false) -> NetlinkRequest {
        let flags = NetlinkMessage.flagCreate | (replace ? NetlinkMessage.flagReplace : NetlinkMessage.flagExclusive)
        return routeRequest(NetlinkMessage.newRoute, flags: acknowledged(flags), route)
    }

    /// `RTM_DELROUTE` for `route`, matched as `ip route del` matches: any protocol, any scope, any type.
    public static func deleteRoute(_ route: Route) -> NetlinkRequest {
        var match = route
        match.routingProtocol = 0
        match.scope = Route.scopeNowhere
        match.type = 0
        return routeRequest(NetlinkMessage.deleteRoute, flags: acknowledged(), match)
    }

    /// `RTM_GETROUTE` dump of every route of `family` (nil: both) in every table.
    public static func dumpRoutes(_ family: IPFamily? = nil) -> NetlinkRequest {
        dump(NetlinkMessage.getRoute, family: family?.kernelFamily ?? 0, headerLength: 12)
    }

    private static func routeRequest(_ type: UInt16, flags: UInt16, _ route: Route) -> NetlinkRequest {
        let destination = route.destination
        var header: [UInt8] = [
            destination.family.kernelFamily, UInt8(destination.prefixLength), 0, 0,
            route.table > 255 ? 0 : UInt8(route.table), route.routingProtocol, route.scope, route.type,
        ]
        header.appendLE32(route.flags.rawValue)
        var request = NetlinkRequest(type: type, flags: flags, header: header)
        if destination.prefixLength > 0 || destination.family == .ipv6 {
            request.append(Route.attributeDestination, destination.address.bytes)
        }
        if let source = route.preferredSource { request.append(Route.attributePreferredSource, source.bytes) }
        if let gateway = route.gateway { request.append(Route.attributeGateway, gateway.bytes) }
        if let priority = route.priority { request.append(Route.attributePriority, u32: priority) }
        if route.table > 255 { request.append(Route.attributeTable, u32: route.table) }
        if let index = route.outputInterface {
            request.append(Route.attributeOutputInterface, u32: UInt32(bitPattern: index))
        }
        return request
    }
}
