import Foundation
import Testing

/// Code a document shows (the README, an article) that a test file compiles and runs: the lines between
/// `// <marker> begin` and `// <marker> end` in the test file, without their first `indentation` characters,
/// must stand in the document as they are, so that the two cannot drift apart.
public enum DocumentedCode {
    /// The package's root folder.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Records an issue when `document` (a path from the package's root) does not show the code between the
    /// markers of `testFile` (pass `#filePath`).
    public static func expectShown(
        between marker: String, in testFile: String, indentation: Int, in document: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let text = try String(contentsOf: root.appendingPathComponent(document), encoding: .utf8)
        let lines = try String(contentsOf: URL(fileURLWithPath: testFile), encoding: .utf8).components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.hasSuffix("// \(marker) begin") }, sourceLocation: sourceLocation)
        let end = try #require(lines.firstIndex { $0.hasSuffix("// \(marker) end") }, sourceLocation: sourceLocation)
        let code = lines[(begin + 1)..<end].map { String($0.dropFirst(indentation)) }.joined(separator: "\n")
        #expect(text.contains(code), "\(document) does not show this code:\n\(code)", sourceLocation: sourceLocation)
    }
}
