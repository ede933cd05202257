/**
 * Storage's own lifecycle rules, as `sluice setup` and the CDK stack write them. Storage
 * deletes nothing the records could still call pending or failed: only incomplete multipart
 * uploads go, once no ticket can still complete them. Everything else left in staging is the
 * sweep's to remove, because only the records know what it is.
 */

/**
 * Whole days after which storage aborts an incomplete multipart upload: a day more than the
 * longest one may take (S3 counts lifecycle days to the next midnight UTC, so never sooner).
 */
export function multipartAbortDays(multipartTtlSeconds: number): number {
  return Math.ceil(multipartTtlSeconds / 86_400) + 1;
}
