internal import CGuestfs
import UpdateEngine
