import CLibXML2
import Foundation

/// Walks an HTML or XML tree and builds the document text block by block.
struct MarkupWalker {
    var builder = DocumentTextBuilder()
    var title: String?

    private var inline = ""
    private var inlineLine = 0

    private static let skipped: Set<String> = [
        "script", "style", "noscript", "template", "svg", "math", "nav", "aside", "form", "iframe", "button",
        "select", "option", "canvas", "object", "embed", "dialog", "menu", "input", "textarea", "label", "video",
        "audio", "map", "head", "link", "meta",
    ]
    private static let blockElements: Set<String> = [
        "p", "div", "section", "article", "main", "blockquote", "figure", "figcaption", "address", "dl", "dt", "dd",
        "ul", "ol", "center", "details", "summary", "hgroup", "body", "html", "hr", "fieldset", "caption", "tbody",
        "thead", "tfoot",
    ]
    private static let boilerplateTokens: Set<String> = [
        "nav", "navbar", "navigation", "menu", "footer", "sidebar", "breadcrumb", "breadcrumbs", "cookie", "cookies",
        "banner", "advert", "advertisement", "ads", "ad", "share", "sharing", "social", "subscribe", "newsletter",
        "popup", "modal", "toolbar", "masthead", "skiplink", "skip", "promo", "sponsored", "noprint",
    ]
    private static let boilerplateRoles: Set<String> = [
        "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "menu", "menubar", "toolbar",
    ]

    // MARK: HTML

    mutating func walkHTML(_ node: xmlNodePtr, insideArticle: Bool = false) {
        for child in LibXML.children(node) {
            switch child.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                appendInline(LibXML.content(child), line: LibXML.line(child) > 0 ? LibXML.line(child) : LibXML.line(node))
            case XML_ELEMENT_NODE:
                visitHTMLElement(child, insideArticle: insideArticle)
            default:
                continue
            }
        }
    }

    private mutating func visitHTMLElement(_ node: xmlNodePtr, insideArticle: Bool) {
        let name = LibXML.name(node)
        if name == "head" {
            if let titleNode = LibXML.children(node).first(where: { LibXML.name($0) == "title" }) {
                let text = collapse(LibXML.content(titleNode))
                if !text.isEmpty { title = text }
            }
            return
        }
        if name == "title" {
            if title == nil { title = collapse(LibXML.content(node)) }
            return
        }
        if Self.skipped.contains(name) { return }
        if (name == "header" || name == "footer") && !insideArticle { return }
        if isBoilerplate(node, name: name) { return }
        let line = LibXML.line(node)
        let article = insideArticle || name == "article" || name == "main"

        switch name {
        case "h1", "h2", "h3", "h4", "h5", "h6":
            flushInline()
            let text = collapse(visibleText(node))
            builder.append(.heading, text, line: line, level: Int(String(name.last!))!)
        case "br":
            inline += "\n"
        case "pre":
            flushInline()
            builder.append(.code, visibleText(node, preserveWhitespace: true), line: line)
        case "li":
            flushInline()
            walkHTML(node, insideArticle: article)
            flushInline(kind: .listItem)
        case "table":
            flushInline()
            let rows = tableRows(node)
            if rows.count == 1 && rows[0].split(separator: "|").count <= 1 {
                builder.append(.paragraph, rows[0], line: line)   // layout table with one cell
            } else if !rows.isEmpty {
                builder.append(.table, rows.joined(separator: "\n"), line: line)
            }
        case "img":
            if let alt = LibXML.attribute(node, "alt"), !alt.isEmpty { appendInline(" \(alt) ", line: line) }
        default:
            if Self.blockElements.contains(name) || name == "header" || name == "footer" {
                flushInline()
                walkHTML(node, insideArticle: article)
                flushInline()
            } else {
                if name == "td" || name == "th" { appendInline(" ", line: line) }
                walkHTML(node, insideArticle: article)
            }
        }
    }

    private func isBoilerplate(_ node: xmlNodePtr, name: String) -> Bool {
        if name == "body" || name == "html" || name == "main" || name == "article" { return false }
        if LibXML.attribute(node, "hidden") != nil { return true }
        if LibXML.attribute(node, "aria-hidden")?.lowercased() == "true" { return true }
        if let role = LibXML.attribute(node, "role")?.lowercased(), Self.boilerplateRoles.contains(role) { return true }
        if let style = LibXML.attribute(node, "style")?.lowercased().replacingOccurrences(of: " ", with: ""),
           style.contains("display:none") || style.contains("visibility:hidden") { return true }
        for attribute in ["class", "id"] {
            guard let value = LibXML.attribute(node, attribute)?.lowercased() else { continue }
            let tokens = value.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "_" })
            if tokens.contains(where: { Self.boilerplateTokens.contains(String($0)) }) { return true }
        }
        return false
    }

    /// Rows of a table as `cell | cell` lines; nested tables are flattened into their cell.
    private func tableRows(_ table: xmlNodePtr) -> [String] {
        var rows: [String] = []
        func visit(_ node: xmlNodePtr) {
            for child in LibXML.children(node) where child.pointee.type == XML_ELEMENT_NODE {
                let name = LibXML.name(child)
                if Self.skipped.contains(name) || isBoilerplate(child, name: name) { continue }
                if name == "tr" {
                    let cells = LibXML.children(child)
                        .filter { ["td", "th"].contains(LibXML.name($0)) }
                        .map { collapse(visibleText($0)) }
                        .filter { !$0.isEmpty }
                    if !cells.isEmpty { rows.append(cells.joined(separator: " | ")) }
                } else if ["thead", "tbody", "tfoot"].contains(name) {
                    visit(child)
                }
            }
        }
        visit(table)
        return rows
    }

    /// Visible text under a node, skipping what the walker skips.
    private func visibleText(_ node: xmlNodePtr, preserveWhitespace: Bool = false) -> String {
        var out = ""
        func visit(_ node: xmlNodePtr) {
            for child in LibXML.children(node) {
                switch child.pointee.type {
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    out += LibXML.content(child)
                case XML_ELEMENT_NODE:
                    let name = LibXML.name(child)
                    if Self.skipped.contains(name) || isBoilerplate(child, name: name) { continue }
                    if name == "br" { out += "\n"; continue }
                    if !preserveWhitespace && (Self.blockElements.contains(name) || name == "td" || name == "th" || name == "li") { out += " " }
                    visit(child)
                default:
                    continue
                }
            }
        }
        visit(node)
        return out
    }

    // MARK: XML

    mutating func walkXML(_ node: xmlNodePtr, depth: Int) {
        let children = LibXML.children(node)
        let hasText = children.contains {
            ($0.pointee.type == XML_TEXT_NODE || $0.pointee.type == XML_CDATA_SECTION_NODE)
                && !LibXML.content($0).allSatisfy(\.isWhitespace)
        }
        let name = LibXML.name(node)
        if hasText {
            let text = collapse(LibXML.content(node))
            if name == "title" || name == "heading" || name == "head" {
                flushInline()
                builder.append(.heading, text, line: LibXML.line(node), level: min(6, max(1, depth - 1)))
                if title == nil { title = text }
            } else {
                let hasElements = children.contains { $0.pointee.type == XML_ELEMENT_NODE }
                let lineText = !hasElements && text.count <= 80 ? "\(Self.localName(name)): \(text)" : text
                if inline.isEmpty { inlineLine = LibXML.line(node) }
                inline += (inline.isEmpty ? "" : "\n") + lineText
            }
            return
        }
        for child in children where child.pointee.type == XML_ELEMENT_NODE {
            let childHasElements = LibXML.children(child).contains { $0.pointee.type == XML_ELEMENT_NODE }
            if childHasElements { flushInline() }
            walkXML(child, depth: depth + 1)
        }
        flushInline()
    }

    private static func localName(_ name: String) -> String {
        name.split(separator: ":").last.map(String.init) ?? name
    }

    // MARK: Text accumulation

    private mutating func appendInline(_ text: String, line: Int) {
        if inline.allSatisfy(\.isWhitespace) && !text.allSatisfy(\.isWhitespace) { inlineLine = line }
        inline += text
    }

    private mutating func flushInline(kind: BlockKind = .paragraph) {
        let text = inline.contains("\n")
            ? inline.split(separator: "\n", omittingEmptySubsequences: false).map { collapse(String($0)) }
                .filter { !$0.isEmpty }.joined(separator: "\n")
            : collapse(inline)
        if !text.isEmpty { builder.append(kind, text, line: inlineLine) }
        inline = ""
    }

    mutating func finish() { flushInline() }

    /// Collapses runs of white space to single spaces and trims.
    private func collapse(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var pendingSpace = false
        for character in text {
            if character.isWhitespace { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(character)
        }
        return out
    }
}
