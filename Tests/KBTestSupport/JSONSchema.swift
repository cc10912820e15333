import Foundation

/// A validator for the JSON Schema (2020-12) keywords kb's schemas in `Schemas/http` use: `type` (one or a
/// list), `properties`, `required`, `additionalProperties: false`, `items`, `enum`, `minimum`, `maximum`,
/// `minLength`, `pattern`, `minItems`, `maxItems` and `$ref` (to `#/$defs/…` in the same file or in
/// another file of the folder). An unknown keyword fails loudly rather than passing silently.
public struct JSONSchemaValidator {
    let folder: URL
    private var documents: [String: [String: Any]] = [:]

    static let known: Set<String> = ["$schema", "$id", "title", "description", "type", "properties", "required",
                                     "additionalProperties", "items", "enum", "minimum", "maximum", "minLength", "pattern",
                                     "minItems", "maxItems", "$ref", "$defs"]

    public init(folder: URL) { self.folder = folder }

    /// Problems found in `value` against the schema file `name` (empty when valid).
    public mutating func validate(_ value: Any, against name: String) -> [String] {
        guard let schema = document(name) else { return ["cannot read schema \(name)"] }
        var problems: [String] = []
        check(value, schema, file: name, path: "$", problems: &problems)
        return problems
    }

    private mutating func document(_ name: String) -> [String: Any]? {
        if let cached = documents[name] { return cached }
        guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        documents[name] = object
        return object
    }

    private mutating func resolve(_ reference: String, from file: String) -> (schema: [String: Any], file: String)? {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let target = parts[0].isEmpty ? file : parts[0]
        guard var node: Any = document(target) else { return nil }
        if parts.count == 2 {
            for key in parts[1].split(separator: "/") where !key.isEmpty {
                guard let next = (node as? [String: Any])?[String(key)] else { return nil }
                node = next
            }
        }
        return (node as? [String: Any]).map { ($0, target) }
    }

    private mutating func check(_ value: Any, _ schema: [String: Any], file: String, path: String, problems: inout [String]) {
        for key in schema.keys where !Self.known.contains(key) { problems.append("\(path): schema keyword \(key) is not supported") }
        if let reference = schema["$ref"] as? String {
            guard let (target, targetFile) = resolve(reference, from: file) else { problems.append("\(path): cannot resolve \(reference)"); return }
            check(value, target, file: targetFile, path: path, problems: &problems)
        }
        if let type = schema["type"] {
            let allowed = (type as? [String]) ?? [type as? String ?? ""]
            guard allowed.contains(where: { Self.matches(value, $0) }) else {
                problems.append("\(path): expected \(allowed.joined(separator: " or ")), got \(Self.describe(value))")
                return
            }
        }
        if let options = schema["enum"] as? [Any], !options.contains(where: { Self.equal($0, value) }) {
            problems.append("\(path): \(value) is not one of \(options)")
        }
        if let number = value as? NSNumber, !(value is Bool) {
            if let minimum = schema["minimum"] as? Double, number.doubleValue < minimum { problems.append("\(path): \(number) < \(minimum)") }
            if let maximum = schema["maximum"] as? Double, number.doubleValue > maximum { problems.append("\(path): \(number) > \(maximum)") }
        }
        if let string = value as? String {
            if let minimum = schema["minLength"] as? Int, string.count < minimum { problems.append("\(path): shorter than \(minimum)") }
            if let pattern = schema["pattern"] as? String, string.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \"\(string)\" does not match \(pattern)")
            }
        }
        if let array = value as? [Any] {
            if let minimum = schema["minItems"] as? Int, array.count < minimum { problems.append("\(path): fewer than \(minimum) items") }
            if let maximum = schema["maxItems"] as? Int, array.count > maximum { problems.append("\(path): more than \(maximum) items") }
            if let items = schema["items"] as? [String: Any] {
                for (index, item) in array.enumerated() { check(item, items, file: file, path: "\(path)[\(index)]", problems: &problems) }
            }
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path): missing \(key)") }
            for (key, item) in object {
                if let property = properties[key] as? [String: Any] {
                    check(item, property, file: file, path: "\(path).\(key)", problems: &problems)
                } else if (schema["additionalProperties"] as? Bool) == false {
                    problems.append("\(path): unexpected property \(key)")
                }
            }
        }
    }

    private static func matches(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "boolean": return isBool(value)
        case "integer": if let n = value as? NSNumber, !isBool(value) { return n.doubleValue == n.doubleValue.rounded() } else { return false }
        case "number": return value is NSNumber && !isBool(value)
        case "string": return value is String
        case "array": return value is [Any]
        case "object": return value is [String: Any]
        default: return false
        }
    }

    /// JSONSerialization gives booleans as a boolean NSNumber subclass (`objCType` "c").
    private static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(describing: type(of: number)).contains("Boolean") || String(cString: number.objCType) == "c"
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        if let a = a as? String, let b = b as? String { return a == b }
        if let a = a as? NSNumber, let b = b as? NSNumber { return a == b }
        return false
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is String: return "string"
        case is [Any]: return "array"
        case is [String: Any]: return "object"
        default: return isBool(value) ? "boolean" : "number"
        }
    }
}

/// The repository's Schemas/http folder.
public let httpSchemasFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Schemas/http")
