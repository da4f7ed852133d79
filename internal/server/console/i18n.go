package console

import (
	"net/http"
	"strings"
)

// The console's words, in English and Simplified Chinese, all here: a
// page takes its language's table (T) and names its words by key. Ids,
// names and times from the records are shown as they are.
var words = map[string][2]string{
	"console":          {"iscd console", "iscd 控制台"},
	"skip":             {"Skip to the content", "跳到正文"},
	"signIn":           {"Sign in", "登录"},
	"signOut":          {"Sign out", "退出登录"},
	"signedIn":         {"Signed in", "已登录"},
	"continue":         {"Continue to the console", "进入控制台"},
	"browserSignIn":    {"Sign in with your work account", "使用工作账号登录"},
	"browserHint":      {"An operator an owner granted a role (iscctl admin-token create --user), and an organisation's admin, sign in as the desktop programs' users do: with the organisation's identity provider.", "经所有者授予角色的运营人员（iscctl admin-token create --user）和组织管理员，可以像桌面程序用户一样，通过组织的身份提供方登录。"},
	"notAdmin":         {"You signed in, but you hold no operator grant and are not an admin of your organisation: the console is for operators and admins.", "您已登录，但您没有运营授权，也不是所在组织的管理员：控制台仅供运营人员和管理员使用。"},
	"signInHint":       {"Operators sign in with an admin token (iscctl admin-token create); an organisation's admins with their API token.", "运营人员使用管理令牌登录（iscctl admin-token create）；组织管理员使用其 API 令牌登录。"},
	"token":            {"Admin token or API token", "管理令牌或 API 令牌"},
	"badToken":         {"That token is unknown, revoked or expired, or its user is neither granted an operator's role nor an organisation admin.", "令牌无效、已吊销或已过期，或其用户既没有运营授权，也不是组织管理员。"},
	"badForm":          {"The form expired or came from another page. Load the page again and retry.", "表单已过期或来自其他页面。请重新加载页面后重试。"},
	"signedInAs":       {"Signed in as", "当前登录"},
	"role":             {"Role", "角色"},
	"language":         {"中文", "English"},
	"nav":              {"Console sections", "控制台栏目"},
	"orgs":             {"Organisations", "组织"},
	"products":         {"Products", "产品"},
	"licenses":         {"Licences", "许可证"},
	"seats":            {"Seats in use", "在用席位"},
	"sessions":         {"Sessions", "会话"},
	"jobs":             {"Jobs", "作业"},
	"job":              {"Job", "作业"},
	"workers":          {"Workers", "计算节点"},
	"solvers":          {"Solvers", "求解器"},
	"releases":         {"Releases", "版本发布"},
	"usage":            {"Usage", "用量"},
	"audit":            {"Audit log", "审计日志"},
	"marketplace":      {"Marketplace", "云市场"},
	"org":              {"My organisation", "我的组织"},
	"users":            {"Users", "用户"},
	"departments":      {"Departments", "部门"},
	"id":               {"ID", "ID"},
	"name":             {"Name", "名称"},
	"created":          {"Created", "创建时间"},
	"state":            {"State", "状态"},
	"status":           {"Status", "状态"},
	"product":          {"Product", "产品"},
	"edition":          {"Edition", "版本"},
	"kind":             {"Kind", "类型"},
	"seatCount":        {"Seats", "席位数"},
	"expires":          {"Expires", "到期"},
	"never":            {"never", "永久"},
	"actions":          {"Actions", "操作"},
	"user":             {"User", "用户"},
	"machine":          {"Machine", "机器"},
	"since":            {"Since", "开始时间"},
	"leaseExpires":     {"Lease expires", "租约到期"},
	"license":          {"Licence", "许可证"},
	"connected":        {"Connected", "已连接"},
	"lastSeen":         {"Last seen", "最后活动"},
	"version":          {"Version", "版本号"},
	"platform":         {"Platform", "平台"},
	"published":        {"Published", "发布时间"},
	"forced":           {"Forced", "强制"},
	"size":             {"Size", "大小"},
	"solver":           {"Solver", "求解器"},
	"attempts":         {"Attempts", "尝试次数"},
	"gates":            {"Licence needed for", "需要许可证的功能"},
	"compute":          {"compute", "计算"},
	"files":            {"files", "文件"},
	"outputs":          {"Outputs", "输出文件"},
	"timeLimit":        {"Time limit (s)", "时限（秒）"},
	"signingKey":       {"Signing key", "签名密钥"},
	"instance":         {"Instance", "实例"},
	"order":            {"Order", "订单"},
	"progress":         {"Progress", "进度"},
	"worker":           {"Worker", "节点"},
	"capacity":         {"Capacity", "容量"},
	"running":          {"Running", "运行中"},
	"address":          {"Address", "地址"},
	"time":             {"Time", "时间"},
	"event":            {"Event", "事件"},
	"detail":           {"Detail", "详情"},
	"session":          {"Session", "会话"},
	"email":            {"Email", "邮箱"},
	"department":       {"Department", "部门"},
	"parent":           {"Parent", "上级"},
	"code":             {"Code", "编码"},
	"logTail":          {"Solver output (last lines)", "求解器输出（末尾）"},
	"result":           {"Result", "结果"},
	"yes":              {"yes", "是"},
	"no":               {"no", "否"},
	"none":             {"Nothing here yet.", "暂无数据。"},
	"issue":            {"Issue a licence", "签发许可证"},
	"issueButton":      {"Issue", "签发"},
	"createOrg":        {"Create an organisation", "创建组织"},
	"createButton":     {"Create", "创建"},
	"freeze":           {"Freeze", "冻结"},
	"unfreeze":         {"Unfreeze", "解冻"},
	"release":          {"Release", "释放"},
	"extend":           {"Extend", "延期"},
	"extendTo":         {"New expiry (YYYY-MM-DD)", "新到期日（YYYY-MM-DD）"},
	"cancel":           {"Cancel", "取消"},
	"end":              {"End", "结束"},
	"disconnect":       {"Disconnect", "断开"},
	"withdraw":         {"Withdraw", "撤回"},
	"releaseSeat":      {"Release seat", "释放席位"},
	"show":             {"Show", "查看"},
	"liveNote":         {"This table updates by itself.", "此表格自动更新。"},
	"solverSeconds":    {"Solver time (s)", "求解时间（秒）"},
	"usageChart":       {"Solver time per day, last 30 days", "近 30 天每日求解时间"},
	"usageOrg":         {"Organisation", "组织"},
	"showButton":       {"Show", "查看"},
	"pickAudit":        {"Which entries", "筛选记录"},
	"all":              {"All", "全部"},
	"auditNewest":      {"Audit log, newest first", "审计日志（最新在前）"},
	"olderEntries":     {"Older entries", "更早的记录"},
	"outbox":           {"Usage records pushed to the marketplace", "推送到云市场的用量记录"},
	"marketplaceCalls": {"What the marketplace's calls did", "云市场调用的结果"},
	"meteringSn":       {"Metering SN", "计量流水号"},
	"value":            {"Value", "数值"},
	"attempt":          {"Attempt", "尝试"},
	"reason":           {"Reason", "原因"},
	"done":             {"Done.", "已完成。"},
	"refused":          {"Refused", "已拒绝"},
	"back":             {"Back", "返回"},
	"storage":          {"Cloud storage", "云存储"},
	"versions":         {"Versions kept", "保留的版本"},
	"logical":          {"Saved (all versions)", "保存量（所有版本）"},
	"chunks":           {"Distinct chunks", "不同数据块"},
	"stored":           {"Stored", "实际存储"},
	"dedup":            {"Saved by dedup", "去重节省"},
	"notFound":         {"Not found", "未找到"},
	"forbiddenHere":    {"Your role may only read this.", "您的角色只能查看此内容。"},
	"adminToken":       {"admin token", "管理令牌"},
	"orgAdmin":         {"organisation admin", "组织管理员"},
	"jobsRunningNow":   {"Jobs queued or running", "排队或运行中的作业"},
}

// lang is a language of the console: 0 English, 1 Simplified Chinese.
type lang int

const (
	english lang = iota
	chinese
)

// tables holds each language's words by key.
var tables = func() [2]map[string]string {
	var t [2]map[string]string
	for l := range t {
		t[l] = make(map[string]string, len(words))
		for k, w := range words {
			t[l][k] = w[l]
		}
	}
	return t
}()

// code is the language's tag, for <html lang>.
func (l lang) code() string {
	if l == chinese {
		return "zh-Hans"
	}
	return "en"
}

const langCookie = "iscd_console_lang"

// langOf is the language of a request: ?lang=, then the cookie the
// language link sets, then Accept-Language (its first choice).
func (s *Service) langOf(w http.ResponseWriter, r *http.Request) lang {
	pick := func(v string) (lang, bool) {
		switch {
		case strings.HasPrefix(v, "zh"):
			return chinese, true
		case strings.HasPrefix(v, "en"):
			return english, true
		}
		return english, false
	}
	if l, ok := pick(r.URL.Query().Get("lang")); ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l.code(), Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 365 * 24 * 3600})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := pick(c.Value); ok {
			return l
		}
	}
	first, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
	l, _ := pick(strings.ToLower(strings.TrimSpace(first)))
	return l
}
