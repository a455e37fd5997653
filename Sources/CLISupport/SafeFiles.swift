import Foundation

/// Writes `data` as `directory/name` without ever following a link or leaving a half-written file:
/// a new temporary file in the same directory (O_EXCL | O_NOFOLLOW, so nothing already there is opened),
/// then rename(2), which replaces a link at `name` itself and never writes through it. `name` must be one
/// plain path component, so no input can place a file outside `directory`.
public func writeFileAtomically(_ data: Data, directory: String, name: String) throws {
    guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
        throw CLIError("refusing to write '\(name)': not a plain file name")
    }
    let final = directory + "/" + name
    let temp = directory + "/.\(name).tmp-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CLIError("cannot create \(temp): \(String(cString: strerror(errno)))") }
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    do {
        try handle.write(contentsOf: data)
        try handle.close()
    } catch {
        unlink(temp)
        throw CLIError("cannot write \(temp): \(error.localizedDescription)")
    }
    guard rename(temp, final) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temp)
        throw CLIError("cannot rename \(temp) to \(final): \(reason)")
    }
}
