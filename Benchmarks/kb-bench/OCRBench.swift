// kb-bench ocr: character error rate and speed of kb's OCR (tesseract through ImageLoader / PDFLoader).
//
//   kb-bench ocr --pages DIR [--pdf FILE]...
//
// DIR holds images (png, jpg, tif) each with a reference text NAME.txt next to NAME.png; names start with the
// group they belong to (en-, zh-hans-, zh-hant-). Reports per image and per group: CER (edit distance over the
// reference's characters, white space ignored, full-width and ASCII commas and stops alike), seconds per page,
// tesseract's confidence and the languages chosen. `--pdf` adds scanned PDFs (seconds per OCR page only).
import Foundation
import KBCore

func characterErrorRate(_ recognised: String, _ reference: String) -> Double {
    func clean(_ text: String) -> [Character] {
        let folded = text.replacingOccurrences(of: "，", with: ",").replacingOccurrences(of: "。", with: ".")
            .replacingOccurrences(of: "：", with: ":").replacingOccurrences(of: "；", with: ";")
        return Array(folded.filter { !$0.isWhitespace })
    }
    let a = clean(recognised), b = clean(reference)
    guard !b.isEmpty else { return a.isEmpty ? 0 : 1 }
    guard !a.isEmpty else { return 1 }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return Double(previous[b.count]) / Double(b.count)
}

func benchOCR(_ arguments: [String]) {
    guard let folder = option("--pages", in: arguments) else { fail("ocr needs --pages DIR") }
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        .filter { ["png", "jpg", "jpeg", "tif", "tiff"].contains(($0 as NSString).pathExtension.lowercased()) }
    guard !files.isEmpty else { fail("no images in \(folder)") }
    var groups: [String: [(cer: Double, seconds: Double, confidence: Double)]] = [:]
    var rows: [[String: Any]] = []
    for file in files {
        let path = folder + "/" + file
        let stem = (file as NSString).deletingPathExtension
        guard let reference = try? String(contentsOfFile: folder + "/" + stem + ".txt", encoding: .utf8),
              let data = FileManager.default.contents(atPath: path) else { continue }
        let start = Date()
        let document: ExtractedDocument
        do {
            document = try ImageLoader().load(data, url: URL(fileURLWithPath: path), context: LoadContext())
        } catch {
            rows.append(["image": file, "error": error.description]); continue
        }
        let seconds = Date().timeIntervalSince(start)
        let cer = characterErrorRate(document.text, reference)
        let confidence = document.blocks.compactMap { block -> Double? in
            if case .ocr(let value)? = block.locator { return value } else { return nil }
        }.first ?? 0
        let group = ["zh-hant", "zh-hans", "en"].first { stem.hasPrefix($0) } ?? "other"
        groups[group, default: []].append((cer, seconds, confidence))
        rows.append(["image": file, "cer": (cer * 10000).rounded() / 10000, "seconds": (seconds * 100).rounded() / 100,
                     "confidence": (confidence * 1000).rounded() / 1000, "characters": reference.filter { !$0.isWhitespace }.count])
    }
    var summary: [String: Any] = [:]
    for (group, values) in groups {
        let cers = values.map(\.cer).sorted(), times = values.map(\.seconds).sorted()
        summary[group] = ["pages": values.count, "cer_median": (percentile(cers, 50) * 10000).rounded() / 10000,
                          "cer_max": ((cers.last ?? 0) * 10000).rounded() / 10000,
                          "seconds_per_page_median": (percentile(times, 50) * 100).rounded() / 100]
    }
    var pdfs: [[String: Any]] = []
    var index = 0
    while index < arguments.count {
        if arguments[index] == "--pdf", index + 1 < arguments.count {
            let path = arguments[index + 1]
            if let data = FileManager.default.contents(atPath: path) {
                let start = Date()
                let document = try? PDFLoader().load(data, url: URL(fileURLWithPath: path), context: LoadContext())
                let seconds = Date().timeIntervalSince(start)
                let pages = document?.ocrPages ?? 0
                pdfs.append(["pdf": (path as NSString).lastPathComponent, "ocr_pages": pages,
                             "seconds_per_page": pages > 0 ? (seconds / Double(pages) * 100).rounded() / 100 : 0,
                             "characters": document?.text.count ?? 0])
            }
            index += 2
        } else {
            index += 1
        }
    }
    printJSON(["images": rows, "groups": summary, "pdfs": pdfs])
}
