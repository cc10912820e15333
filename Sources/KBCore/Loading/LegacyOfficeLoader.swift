import Foundation

/// Old binary Office files (`.doc`, `.xls`, `.ppt`), converted to their OOXML counterparts with LibreOffice
/// (`soffice --headless --convert-to`) when it is installed, then read by the DOCX, XLSX or PPTX loader. Without
/// LibreOffice they are skipped as unsupported, with the hint to install it (kb's setup does not: it is large).
public struct LegacyOfficeLoader: DocumentLoader {
    public let format = "legacy-office"
    public let fileExtensions: Set<String> = ["doc", "xls", "ppt"]
    public let version = "1"
    /// Seconds before a stuck conversion is stopped.
    public var timeout: Double = 180

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try load(data, url: url, context: LoadContext())
    }

    public func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument {
        let ext = url.pathExtension.lowercased()
        let target = ["doc": "docx", "xls": "xlsx", "ppt": "pptx"][ext] ?? "docx"
        guard data.starts(with: ZipContainer.oleSignature) else {
            throw .damaged("not an old binary Office file (no OLE compound-file signature)")
        }
        guard let soffice = ExternalTool.find("soffice", "libreoffice") else {
            throw .unsupported(".\(ext) (old binary Office format: install LibreOffice, for example Debian's libreoffice-core-nogui with libreoffice-writer-nogui, libreoffice-calc-nogui and libreoffice-impress-nogui, and kb converts it)")
        }
        let folder = try ExternalTool.temporaryFolder("office")
        defer { try? FileManager.default.removeItem(at: folder) }
        // A profile of its own, so a LibreOffice the user has open does not swallow the conversion.
        let profile = folder.appendingPathComponent("profile").absoluteString
        let output = try ExternalTool.run(soffice, ["-env:UserInstallation=\(profile)", "--headless", "--norestore", "--nologo",
                                                    "--convert-to", target, "--outdir", folder.path, url.path],
                                          timeout: timeout, environment: ["HOME": folder.path], label: "LibreOffice")
        let converted = folder.appendingPathComponent(url.deletingPathExtension().lastPathComponent + "." + target)
        if output.timedOut { throw .damaged("LibreOffice did not convert it within \(Int(timeout)) s (encrypted or damaged?)") }
        guard let bytes = FileManager.default.contents(atPath: converted.path) else {
            throw .damaged("LibreOffice could not convert it: " + ExternalTool.message(output, tool: "soffice"))
        }
        let registry = context.registry ?? LoaderRegistry.standard
        guard let loader = registry.loaders.first(where: { $0.fileExtensions.contains(target) }) else {
            throw .unsupported(".\(target)")
        }
        var document = try loader.load(bytes, url: converted, context: context)
        document.format = ext
        return document
    }
}
