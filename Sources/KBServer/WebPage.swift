import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// kb's web page (`Sources/KBServer/Web`, compiled into the binary): one HTML shell for every view's URL, and its
/// script, style sheet and icon. The page calls the REST API of the same origin.
enum WebPage {
    /// The views' paths; each serves the page, which renders the view from the URL.
    static let views = ["/", "/ask", "/search", "/documents", "/feedback", "/status"]

    /// No inline or foreign scripts, styles, frames or connections: the page and the API are the only origin.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    static func page() -> Response { asset(PackageResources.index_html, type: "text/html; charset=utf-8") }

    static func asset(_ name: String) -> Response? {
        switch name {
        case "app.js": return asset(PackageResources.app_js, type: "text/javascript; charset=utf-8")
        case "app.css": return asset(PackageResources.app_css, type: "text/css; charset=utf-8")
        case "icon.svg": return asset(PackageResources.icon_svg, type: "image/svg+xml")
        default: return nil
        }
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [
            .contentType: type,
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .init("Referrer-Policy")!: "no-referrer",
            .cacheControl: "no-cache",
        ], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// True for what is served without the token: the page and its assets hold no data (the data comes from the
    /// API, which asks for the token).
    static func isPublic(_ request: Request) -> Bool {
        guard request.method == .get || request.method == .head else { return false }
        let path = request.uri.path
        return views.contains(path) || path.hasPrefix("/documents/") || path.hasPrefix("/assets/")
    }
}

/// Refuses what a page on another site could make a browser do: a state-changing request from another origin
/// (form posts and `fetch` from elsewhere carry an `Origin` or `Sec-Fetch-Site` header saying so), and, on a
/// loopback daemon, a request whose `Host` is not a loopback name (DNS rebinding).
struct SameOriginMiddleware: RouterMiddleware {
    typealias Context = KBRequestContext
    let loopbackOnly: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority
        if loopbackOnly, let host, !Self.isLoopback(host) {
            throw APIError(.misdirectedRequest, "wrong_host", "This kb daemon listens on loopback only; \(host) is not a loopback name.")
        }
        if request.method != .get && request.method != .head && request.method != .options {
            if request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "cross-site" {
                throw APIError(.forbidden, "cross_origin", "Requests from another site are refused.")
            }
            if let origin = request.headers[.origin] {
                // The origin must be this daemon's own (scheme aside): "null" and other hosts are refused.
                guard let authority = Self.authority(ofOrigin: origin), let host, authority == host.lowercased() else {
                    throw APIError(.forbidden, "cross_origin", "Requests from another origin (\(origin)) are refused.")
                }
            }
        }
        return try await next(request, context)
    }

    /// `host[:port]` of an origin, lower-cased, with an IPv6 address in brackets as in a `Host` header.
    static func authority(ofOrigin origin: String) -> String? {
        guard let url = URL(string: origin), var name = url.host, !name.isEmpty else { return nil }
        if name.contains(":") && !name.hasPrefix("[") { name = "[" + name + "]" }
        return (url.port.map { "\(name):\($0)" } ?? name).lowercased()
    }

    /// True for `localhost`, `[::1]` and dotted IPv4 addresses in 127.0.0.0/8, with or without a port. A name that
    /// merely starts with `127.` (`127.attacker.example`) is not loopback.
    static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("[") {
            guard let end = name.firstIndex(of: "]") else { return false }
            return name[name.index(after: name.startIndex)..<end] == "::1"
        }
        if let colon = name.lastIndex(of: ":") { name = String(name[..<colon]) }
        if name == "localhost" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in UInt8(part) != nil }
    }
}
