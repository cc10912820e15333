import CLibXML2
import Foundation

/// HTML (`.html`, `.htm`, `.xhtml`): visible text only, with title, headings, lists and tables kept.
///
/// Parsed with libxml2's forgiving HTML parser. Scripts, styles, navigation, headers and footers
/// outside the article, forms, hidden elements and elements whose class or id names them as
/// boilerplate (menus, sidebars, cookie banners, share buttons, adverts) are dropped.
public struct HTMLLoader: DocumentLoader {
    public let format = "html"
    public let fileExtensions: Set<String> = ["html", "htm", "xhtml"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data, declaredCharset: TextDecoder.declaredCharset(in: data))
        let options = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                            | HTML_PARSE_NONET.rawValue | HTML_PARSE_IGNORE_ENC.rawValue | HTML_PARSE_COMPACT.rawValue)
        let document = LibXML.parse(decoded.text, name: url.path, html: true, options: options)
        guard let document else { throw .malformed("libxml2 could not parse the HTML") }
        defer { xmlFreeDoc(document) }
        var walker = MarkupWalker()
        if let root = xmlDocGetRootElement(document) { walker.walkHTML(root) }
        walker.finish()
        guard !walker.builder.blocks.isEmpty else { throw .noText }
        let title = walker.title ?? walker.builder.blocks.first(where: { $0.kind == .heading })?.title
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: title,
                                 text: walker.builder.text, blocks: walker.builder.blocks)
    }
}

/// XML (`.xml`): element text as paragraphs; short leaf elements as `name: value` lines; `title`
/// elements as headings. XHTML documents are read as HTML. External entities are never loaded.
public struct XMLLoader: DocumentLoader {
    public let format = "xml"
    public let fileExtensions: Set<String> = ["xml"]
    public let version = "1"

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        let decoded = try TextDecoder.decode(data, declaredCharset: TextDecoder.declaredCharset(in: data))
        let options = Int32(XML_PARSE_RECOVER.rawValue | XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue
                            | XML_PARSE_NOWARNING.rawValue | XML_PARSE_IGNORE_ENC.rawValue | XML_PARSE_NOCDATA.rawValue
                            | XML_PARSE_COMPACT.rawValue | XML_PARSE_HUGE.rawValue)
        let document = LibXML.parse(decoded.text, name: url.path, html: false, options: options)
        guard let document, let root = xmlDocGetRootElement(document) else {
            throw .malformed("not well-formed XML")
        }
        defer { xmlFreeDoc(document) }
        var walker = MarkupWalker()
        if LibXML.name(root) == "html" { walker.walkHTML(root) } else { walker.walkXML(root, depth: 1) }
        walker.finish()
        guard !walker.builder.blocks.isEmpty else { throw .noText }
        let title = walker.title ?? walker.builder.blocks.first(where: { $0.kind == .heading })?.title
        return ExtractedDocument(format: format, encoding: decoded.encoding, title: title,
                                 text: walker.builder.text, blocks: walker.builder.blocks)
    }
}

/// Small helpers over libxml2's C API.
enum LibXML {
    private static let lock = NSLock()

    /// Runs a parse with libxml2's global error printing switched off.
    static func withSilencedErrors<T>(_ body: () -> T) -> T {
        lock.lock()
        kb_xml_silence_errors()
        lock.unlock()
        return body()
    }

    /// Parses HTML or XML from memory with libxml2 (errors silenced, network off). `encoding` nil lets
    /// libxml2 read the document's own declaration; kb passes "UTF-8" for text it already decoded.
    static func parse(_ bytes: UnsafeRawBufferPointer, name: String, encoding: String?, html: Bool, options: Int32) -> xmlDocPtr? {
        withSilencedErrors {
            let pointer = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
            return html ? htmlReadMemory(pointer, Int32(bytes.count), name, encoding, options)
                        : xmlReadMemory(pointer, Int32(bytes.count), name, encoding, options)
        }
    }

    /// Parses already-decoded text as UTF-8.
    static func parse(_ text: String, name: String, html: Bool, options: Int32) -> xmlDocPtr? {
        var utf8 = Array(text.utf8)
        return utf8.withUnsafeMutableBytes { parse(UnsafeRawBufferPointer($0), name: name, encoding: "UTF-8", html: html, options: options) }
    }

    /// Every element below `node` with the given (lower-cased local) name, in document order.
    static func descendants(_ node: xmlNodePtr, named name: String) -> [xmlNodePtr] {
        var out: [xmlNodePtr] = []
        func walk(_ node: xmlNodePtr) {
            for child in children(node) where child.pointee.type == XML_ELEMENT_NODE {
                if self.name(child) == name { out.append(child) }
                walk(child)
            }
        }
        walk(node)
        return out
    }

    static func name(_ node: xmlNodePtr) -> String {
        guard let name = node.pointee.name else { return "" }
        return String(cString: name).lowercased()
    }

    static func attribute(_ node: xmlNodePtr, _ name: String) -> String? {
        guard let value = xmlGetProp(node, name) else { return nil }
        defer { kb_xml_free(value) }
        return String(cString: value)
    }

    static func content(_ node: xmlNodePtr) -> String {
        guard let value = xmlNodeGetContent(node) else { return "" }
        defer { kb_xml_free(value) }
        return String(cString: value)
    }

    static func line(_ node: xmlNodePtr) -> Int { Int(xmlGetLineNo(node)) }

    static func children(_ node: xmlNodePtr) -> [xmlNodePtr] {
        var out: [xmlNodePtr] = []
        var child = node.pointee.children
        while let current = child { out.append(current); child = current.pointee.next }
        return out
    }
}
